"""A gradient planner: Adam on the action sequences through the model, several restarts.

Restart 0 starts from the warm-start plan, the others from it plus Gaussian noise. After every
Adam step actions are scaled back to the task's longest action (projected gradient descent). The
cheapest sequence met over all steps and restarts is returned; restarts with equal costs are
ordered by index. The cost must be differentiable in the actions (a world model's latent cost;
not the oracle's simulator).
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
class GradientPlanner:
    """Gradient planner settings; ``make_planner`` fills them from ``PlanConfig``."""

    iterations: int  # Adam steps
    restarts: int
    lr: float
    init_std: float  # noise of restarts 1.. around the warm start
    max_norm: float = math.inf
    name: str = "gradient"
    differentiable: bool = True

    def __post_init__(self) -> None:
        check_counts("gradient planner", iterations=self.iterations, restarts=self.restarts)
        check_positive("gradient planner", lr=self.lr, init_std=self.init_std)
        check_bound("gradient planner", self.max_norm)

    def solve(
        self, cost: BatchCost, init: Tensor, generators: Sequence[torch.Generator]
    ) -> PlanResult:
        """The cheapest sequence (B, H, A) met while descending, and its cost."""
        b, h, a = init.shape
        start = init.to(torch.float32)[:, None].repeat(1, self.restarts, 1, 1)  # (B, R, H, A)
        if self.restarts > 1:
            eps = noise(generators, self.restarts - 1, h, a, init.device)
            start[:, 1:] += self.init_std * eps
        x = clamp_norm(start, self.max_norm).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=self.lr)
        best = x.detach().clone()
        best_cost = torch.full((b, self.restarts), math.inf, dtype=torch.float64)
        for step in range(self.iterations + 1):
            with torch.enable_grad():
                c = cost(x)  # (B, R)
                checked = finite_costs(c.detach(), (b, self.restarts)).cpu()
                better = checked < best_cost
                best = torch.where(better[:, :, None, None].to(x.device), x.detach(), best)
                best_cost = torch.where(better, checked, best_cost)
                if step == self.iterations:
                    break
                loss = torch.where(torch.isfinite(c), c, torch.zeros_like(c)).sum()
                (grad,) = torch.autograd.grad(loss, x)
            x.grad = grad
            opt.step()
            with torch.no_grad():
                x.copy_(clamp_norm(x, self.max_norm))
        order = rank(best_cost)[:, :1]  # (B, 1)
        chosen = pick(best, order.to(best.device))[:, 0]  # (B, H, A)
        return PlanResult(chosen, best_cost.gather(1, order)[:, 0])
