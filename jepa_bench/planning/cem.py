"""The cross-entropy method (LeWM's planner), batched over problems.

Each iteration samples ``samples`` sequences per problem from a diagonal Gaussian (the current
mean is always one of them), bounds action lengths, keeps the ``topk`` cheapest and refits mean
and std to them. Costs are float64 and elites are chosen by a stable sort with an index
tie-break, so equal costs are ordered the same way on every machine and thread count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from jepa_bench.planning.planners import (
    BatchCost,
    PlanResult,
    check_bound,
    check_counts,
    check_positive,
    clamp_norm,
    finite_costs,
    noise,
    pick,
    rank,
)


@dataclass(frozen=True)
class CEM:
    """CEM settings; ``make_planner`` fills them from ``PlanConfig`` (their one source)."""

    samples: int
    iterations: int
    topk: int
    init_std: float  # per action coordinate
    max_norm: float = math.inf  # actions are scaled back to this length (the task's bound)
    name: str = "cem"
    differentiable: bool = False

    def __post_init__(self) -> None:
        check_counts("CEM", samples=self.samples, iterations=self.iterations, topk=self.topk)
        if self.topk > self.samples:
            raise ValueError(f"CEM topk ({self.topk}) must not exceed samples ({self.samples})")
        check_positive("CEM", init_std=self.init_std)
        check_bound("CEM", self.max_norm)

    def solve(
        self, cost: BatchCost, init: Tensor, generators: Sequence[torch.Generator]
    ) -> PlanResult:
        """The cheapest sequence (B, H, A) evaluated over all iterations, and its cost."""
        b, h, a = init.shape
        mean = clamp_norm(init.to(torch.float32), self.max_norm)  # (B, H, A)
        std = torch.full_like(mean, self.init_std)
        best, best_cost = mean.clone(), torch.full((b,), math.inf, dtype=torch.float64)
        rows = torch.arange(b)
        for _ in range(self.iterations):
            eps = noise(generators, self.samples, h, a, mean.device)  # (B, N, H, A)
            cand = mean[:, None] + std[:, None] * eps
            cand[:, 0] = mean
            cand = clamp_norm(cand, self.max_norm)
            c = finite_costs(cost(cand), (b, self.samples)).cpu()  # (B, N)
            order = rank(c)[:, : self.topk]  # (B, K)
            elites = pick(cand, order.to(cand.device))  # (B, K, H, A)
            mean, std = elites.mean(1), elites.std(1, unbiased=False)
            top = c[rows, order[:, 0]]  # (B,)
            better = top < best_cost
            best = torch.where(better[:, None, None].to(mean.device), elites[:, 0], best)
            best_cost = torch.where(better, top, best_cost)
        return PlanResult(best, best_cost)
