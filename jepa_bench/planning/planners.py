"""One interface for the planners: minimise a batched cost of action sequences.

A planner solves ``B`` independent problems at once (one per episode): ``solve(cost, init,
generators)`` gets a cost of candidates (B, N, H, A) -> (B, N) float64, the warm-start sequences
(B, H, A) and one noise generator per problem, and returns the planned sequences (B, H, A) with
their costs. A problem's noise comes only from its own generator, so an episode plans the same
whichever episodes share its batch. Planners: ``cem`` (``planning/cem.py``), ``mppi``
(``planning/mppi.py``), ``gradient`` (``planning/gradient.py``); ``make_planner`` builds one from
a ``PlanConfig``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from jepa_bench.config import PlanConfig

BatchCost = Callable[[Tensor], Tensor]  # candidates (B, N, H, A) -> costs (B, N), float64


@dataclass
class PlanResult:
    """Planned sequences (B, H, A) and their costs (B,) float64 (inf: every candidate failed)."""

    actions: Tensor
    cost: Tensor


class Planner(Protocol):
    """What every planner offers; ``differentiable``: it needs a cost that autograd can follow."""

    @property
    def name(self) -> str: ...

    @property
    def differentiable(self) -> bool: ...

    def solve(
        self, cost: BatchCost, init: Tensor, generators: Sequence[torch.Generator]
    ) -> PlanResult: ...


def check_counts(owner: str, **values: int) -> None:
    """Each of ``values`` is an integer >= 1 (not a bool), else a ValueError naming it."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{owner} {name} must be a positive integer, got {value!r}")


def check_positive(owner: str, **values: float) -> None:
    """Each of ``values`` is a finite number > 0, else a ValueError naming it."""
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{owner} {name} must be a finite number > 0, got {value!r}")


def check_bound(owner: str, max_norm: float) -> None:
    """The action bound is > 0 (``inf``: unbounded)."""
    if not max_norm > 0:
        raise ValueError(f"{owner} max_norm must be > 0, got {max_norm!r}")


def clamp_norm(actions: Tensor, max_norm: float) -> Tensor:
    """Scale every action (..., A) longer than ``max_norm`` back to that length."""
    norm = actions.norm(dim=-1, keepdim=True)  # (..., 1)
    long = norm > max_norm  # only these change, so short actions stay bit-identical
    return torch.where(long, actions * (max_norm / norm.clamp_min(1e-12)), actions)


def noise(
    generators: Sequence[torch.Generator], n: int, h: int, a: int, device: torch.device
) -> Tensor:
    """Standard normal noise (B, n, h, a): row b drawn from ``generators[b]`` alone."""
    return torch.stack([torch.randn(n, h, a, generator=g, device=device) for g in generators])


def finite_costs(cost: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``cost`` checked to have ``shape``, as float64 with NaN and -inf made +inf."""
    if tuple(cost.shape) != shape:
        raise ValueError(f"the cost returned shape {tuple(cost.shape)}, expected {shape}")
    cost = cost.to(torch.float64)
    return torch.where(torch.isfinite(cost), cost, torch.full_like(cost, math.inf))


def rank(cost: Tensor) -> Tensor:
    """Indices (B, N) ordering each row by cost, ties broken by the lower index.

    A stable sort on float64 costs: the order does not depend on the thread count or on how
    ``topk`` happens to break ties.
    """
    return torch.sort(cost, dim=-1, stable=True).indices


def pick(x: Tensor, idx: Tensor) -> Tensor:
    """Rows ``idx`` (B, K) of candidates ``x`` (B, N, H, A) -> (B, K, H, A)."""
    return torch.gather(x, 1, idx[:, :, None, None].expand(-1, -1, *x.shape[2:]))


def make_planner(cfg: PlanConfig, max_norm: float, name: str | None = None) -> Planner:
    """The planner ``name`` (default ``cfg.planner``) with ``cfg``'s settings, actions bounded by
    ``max_norm`` (the task's longest action)."""
    from jepa_bench.planning.cem import CEM
    from jepa_bench.planning.gradient import GradientPlanner
    from jepa_bench.planning.mppi import MPPI

    name = cfg.planner if name is None else name
    if name == "cem":
        return CEM(cfg.samples, cfg.iterations, cfg.topk, cfg.init_std, max_norm)
    if name == "mppi":
        return MPPI(cfg.samples, cfg.iterations, cfg.temperature, cfg.init_std, max_norm)
    if name == "gradient":
        return GradientPlanner(cfg.iterations, cfg.restarts, cfg.lr, cfg.init_std, max_norm)
    raise ValueError(f"unknown planner {name!r}; known: cem, mppi, gradient")
