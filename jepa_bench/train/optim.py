"""Optimiser and learning-rate schedule (linear warm-up, then cosine to zero)."""

from __future__ import annotations

import math

import torch
from torch import nn


def build_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (momentum 0.9) over the trainable parameters.

    On a GPU, Adam and AdamW use the fused kernels (one launch per step for all parameters).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    fused = bool(params) and all(p.device.type == "cuda" for p in params)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use 'adam', 'adamw' or 'sgd'")


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based) of ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    opt: torch.optim.Optimizer, total: int, warmup_frac: float
) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = int(round(warmup_frac * total))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, total, warmup))
