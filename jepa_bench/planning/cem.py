"""The cross-entropy method: minimise any batched cost of action sequences (N, H, A) -> (N,)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from jepa_bench.data.base import CostFn


@dataclass(frozen=True)
class CEMSettings:
    """CEM hyper-parameters; defaults follow LeWM's planner (300 samples, 30 iterations, top 30)."""

    samples: int = 300
    iterations: int = 30
    topk: int = 30
    horizon: int = 8
    init_std: float = 1.0  # per action coordinate
    max_norm: float = math.inf  # actions are scaled back to this length (the task's bound)

    def __post_init__(self) -> None:
        for name in ("samples", "iterations", "topk", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CEM {name} must be a positive integer, got {value!r}")
        if self.topk > self.samples:
            raise ValueError(f"CEM topk ({self.topk}) must not exceed samples ({self.samples})")
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ValueError(f"CEM init_std must be a finite number > 0, got {self.init_std!r}")
        if not self.max_norm > 0:
            raise ValueError(f"CEM max_norm must be > 0, got {self.max_norm!r}")


@dataclass
class CEMResult:
    """The best sequence found, its cost and the best cost after each iteration."""

    actions: Tensor  # (H, A)
    cost: float
    curve: list[float] = field(default_factory=list)


def clamp_norm(actions: Tensor, max_norm: float) -> Tensor:
    """Scale every action (..., A) longer than ``max_norm`` back to that length."""
    norm = actions.norm(dim=-1, keepdim=True)  # (..., 1)
    long = norm > max_norm  # only these change, so short actions stay bit-identical
    return torch.where(long, actions * (max_norm / norm.clamp_min(1e-12)), actions)


def cem(
    cost_fn: CostFn,
    settings: CEMSettings,
    action_dim: int,
    horizon: int | None = None,
    init_mean: Tensor | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> CEMResult:
    """Minimise ``cost_fn`` over action sequences (H, A) with the cross-entropy method.

    Each iteration samples ``samples`` sequences from a diagonal Gaussian (the current mean is
    always one of them), bounds action lengths, keeps the ``topk`` cheapest and refits mean and
    std to them. Non-finite costs count as +inf. Returns the cheapest sequence evaluated.
    """
    h = settings.horizon if horizon is None else int(horizon)
    if h < 1:
        raise ValueError(f"planning horizon must be >= 1, got {h}")
    device = torch.device(device)
    mean = torch.zeros(h, action_dim, device=device)  # (H, A)
    if init_mean is not None:
        if init_mean.shape != (h, action_dim):
            raise ValueError(f"init_mean must have shape {(h, action_dim)}, got {init_mean.shape}")
        mean = init_mean.to(device=device, dtype=torch.float32).clone()
    std = torch.full_like(mean, settings.init_std)
    best, best_cost, curve = mean, math.inf, []
    for _ in range(settings.iterations):
        noise = torch.randn(
            settings.samples, h, action_dim, generator=generator, device=device
        )  # (N, H, A)
        cand = mean + std * noise
        cand[0] = mean
        cand = clamp_norm(cand, settings.max_norm)
        cost = cost_fn(cand).float()  # (N,)
        if cost.shape != (settings.samples,):
            raise ValueError(f"cost_fn returned shape {tuple(cost.shape)}, expected (N,)")
        cost = torch.where(torch.isfinite(cost), cost, torch.full_like(cost, math.inf))
        order = torch.topk(cost, settings.topk, largest=False).indices  # (K,)
        elites = cand[order]  # (K, H, A)
        mean, std = elites.mean(0), elites.std(0, unbiased=False)
        if float(cost[order[0]]) < best_cost:
            best, best_cost = cand[order[0]].clone(), float(cost[order[0]])
        curve.append(best_cost)
    return CEMResult(actions=best, cost=best_cost, curve=curve)
