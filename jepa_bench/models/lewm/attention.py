"""Multi-head attention shared by the ViT encoder and the causal predictor.

``fused=True`` uses ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels where the
backend has them); ``fused=False`` is the explicit softmax(QK^T / sqrt(d)) V reference path, kept
so benchmarks and tests can compare the two.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    dropout_p: float = 0.0,
    fused: bool = True,
) -> Tensor:
    """Scaled dot-product attention over (N, heads, L, d) tensors; returns (N, heads, L, d)."""
    if fused:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (N, h, L, L)
    if causal:
        n = q.shape[-2]
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(N, L, heads * d) -> (N, heads, L, d)."""
    n, length, inner = x.shape
    return x.view(n, length, heads, inner // heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(N, heads, L, d) -> (N, L, heads * d)."""
    n, heads, length, d = x.shape
    return x.transpose(1, 2).reshape(n, length, heads * d)
