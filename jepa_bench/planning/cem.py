"""The cross-entropy method over action sequences, and a world model's latent cost for it.

``cem`` minimises any batched cost of action sequences (N, H, A) -> (N,). ``LatentPlanner`` builds
that cost from a model implementing the protocol: encode the current observation (and a short
context), roll N candidate sequences forward with repeated ``model.predict`` and score the squared
distance between predicted and goal embeddings (LeWM's planning energy).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from jepa_bench.data.wall_door.actions import STEP_HI

CostFn = Callable[[Tensor], Tensor]  # actions (N, H, A) -> cost (N,)
Objective = Literal["final", "mean"]


@dataclass(frozen=True)
class CEMSettings:
    """CEM hyper-parameters; defaults follow LeWM's planner (300 samples, 30 iterations, top 30)."""

    samples: int = 300
    iterations: int = 30
    topk: int = 30
    horizon: int = 8
    init_std: float = 1.0  # per action coordinate, px
    max_norm: float = STEP_HI  # actions are scaled back to this length (the data's largest step)

    def __post_init__(self) -> None:
        for name in ("samples", "iterations", "topk", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CEM {name} must be a positive integer, got {value!r}")
        if self.topk > self.samples:
            raise ValueError(f"CEM topk ({self.topk}) must not exceed samples ({self.samples})")
        for name in ("init_std", "max_norm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"CEM {name} must be a finite number > 0, got {value!r}")


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


def latent_rollout(
    model: torch.nn.Module, z_ctx: Tensor, a_ctx: Tensor, cand: Tensor, history: int | None
) -> Tensor:
    """Predicted latents (N, H, D) of candidates (N, H, A) after context z (K, D), a (K-1, A).

    The predictor sees the context latents and actions followed by its own predictions, at most
    ``history`` of them (all when None).
    """
    n, h = cand.shape[:2]
    zs = [z.expand(n, -1) for z in z_ctx]  # K x (N, D)
    acts = [a.expand(n, -1) for a in a_ctx]  # (K-1) x (N, A)
    out = []
    for t in range(h):
        acts.append(cand[:, t])
        lo = 0 if history is None else max(0, len(zs) - history)
        z = model.predict(torch.stack(zs[lo:], 1), torch.stack(acts[lo:], 1))  # (N, D)
        zs.append(z)
        out.append(z)
    return torch.stack(out, 1)


class LatentPlanner:
    """CEM in a world model's latent space: cost = squared distance to the goal embedding.

    ``objective`` "final" scores the last predicted latent (LeWM); "mean" averages over the
    horizon, which also rewards arriving early and staying.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        settings: CEMSettings,
        objective: Objective = "final",
        device: torch.device | str = "cpu",
    ) -> None:
        if objective not in ("final", "mean"):
            raise ValueError(f"objective must be 'final' or 'mean', got {objective!r}")
        self.model, self.settings, self.objective = model, settings, objective
        self.device = torch.device(device)
        # how many encoded frames the predictor can use; models without the attribute get one
        self.history: int | None = getattr(model, "history_size", None)
        self.context = int(self.history or 1)

    @torch.inference_mode()
    def encode(self, frames: Tensor) -> Tensor:
        """Latents (K, D) of observation frames (K, C, H, W)."""
        return self.model.encode(frames.to(self.device, torch.float32).unsqueeze(0))[0]

    def cost_fn(self, z_ctx: Tensor, a_ctx: Tensor, z_goal: Tensor) -> CostFn:
        """Planning energy of candidates after context (K, D), (K-1, A), toward z_goal (D,)."""

        def cost(cand: Tensor) -> Tensor:
            z = latent_rollout(self.model, z_ctx, a_ctx, cand, self.history)  # (N, H, D)
            sq = ((z - z_goal) ** 2).sum(-1)  # (N, H)
            return sq[:, -1] if self.objective == "final" else sq.mean(1)

        return cost

    @torch.inference_mode()
    def plan(
        self,
        z_ctx: Tensor,
        a_ctx: Tensor,
        z_goal: Tensor,
        horizon: int | None = None,
        init_mean: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> CEMResult:
        """One planning call: the best action sequence (H, A) from the context toward z_goal."""
        if z_ctx.ndim != 2 or z_goal.shape != z_ctx.shape[1:]:
            raise ValueError(
                f"expected z_ctx (K, D) and z_goal (D,); got {tuple(z_ctx.shape)}, "
                f"{tuple(z_goal.shape)}"
            )
        if a_ctx.shape[0] != z_ctx.shape[0] - 1:
            raise ValueError(f"{len(z_ctx)} context latents need {len(z_ctx) - 1} actions")
        fn = self.cost_fn(z_ctx, a_ctx.to(self.device, torch.float32), z_goal)
        return cem(fn, self.settings, a_ctx.shape[-1], horizon, init_mean, generator, self.device)
