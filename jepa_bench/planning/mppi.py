"""Model-predictive path integral control (PLDM's planner), batched over problems.

Each iteration samples ``samples`` sequences per problem around the current plan with a fixed
std (the plan itself is one of them), bounds action lengths, and moves the plan to the
softmax-weighted mean of the candidates, with weights ``exp(-(c - c_min) / (temperature * s))``
where ``s`` is the std of that iteration's costs: the temperature is relative, so the same value
suits latent spaces of any scale. The update is a smooth function of the costs: no candidate is
ever in or out of an elite set, so a tiny change in the costs (another machine's rounding) moves
the plan only a little.
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
)


def softmax_weights(cost: Tensor, temperature: float) -> Tensor:
    """MPPI weights (B, N) summing to 1 per row from float64 costs (B, N); inf costs weigh 0."""
    finite = torch.isfinite(cost)
    c = torch.where(finite, cost, torch.zeros_like(cost))
    n = finite.sum(-1, keepdim=True).clamp_min(1)
    mean = c.sum(-1, keepdim=True) / n
    spread = (((c - mean) ** 2) * finite).sum(-1, keepdim=True).div(n).sqrt()  # (B, 1)
    low = torch.where(finite, cost, torch.full_like(cost, math.inf)).amin(-1, keepdim=True)
    scale = temperature * torch.where(spread > 0, spread, torch.ones_like(spread))
    logits = torch.where(finite, -(c - low) / scale, torch.full_like(c, -math.inf))
    w = torch.softmax(logits, dim=-1)
    return torch.nan_to_num(w, nan=0.0)  # a row without a finite cost: all weights 0


@dataclass(frozen=True)
class MPPI:
    """MPPI settings; ``make_planner`` fills them from ``PlanConfig`` (their one source)."""

    samples: int
    iterations: int
    temperature: float  # relative to the std of each iteration's costs
    init_std: float  # sampling std per action coordinate (fixed, as in MPPI)
    max_norm: float = math.inf
    name: str = "mppi"
    differentiable: bool = False

    def __post_init__(self) -> None:
        check_counts("MPPI", samples=self.samples, iterations=self.iterations)
        check_positive("MPPI", temperature=self.temperature, init_std=self.init_std)
        check_bound("MPPI", self.max_norm)

    def solve(
        self, cost: BatchCost, init: Tensor, generators: Sequence[torch.Generator]
    ) -> PlanResult:
        """The plan (B, H, A) after ``iterations`` weighted updates, and its cost."""
        b, h, a = init.shape
        plan = clamp_norm(init.to(torch.float32), self.max_norm)  # (B, H, A)
        for _ in range(self.iterations):
            eps = noise(generators, self.samples, h, a, plan.device)  # (B, N, H, A)
            cand = clamp_norm(plan[:, None] + self.init_std * eps, self.max_norm)
            cand[:, 0] = plan
            c = finite_costs(cost(cand), (b, self.samples))  # (B, N)
            w = softmax_weights(c.cpu(), self.temperature).to(cand.device)
            new = (w[:, :, None, None] * cand.double()).sum(1).float()  # (B, H, A)
            has = torch.isfinite(c).any(-1).to(plan.device)  # keep the plan where all failed
            plan = clamp_norm(torch.where(has[:, None, None], new, plan), self.max_norm)
        final = finite_costs(cost(plan[:, None]), (b, 1))[:, 0].cpu()
        return PlanResult(plan, final)
