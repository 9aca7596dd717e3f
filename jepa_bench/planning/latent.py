"""A world model's planning cost: roll candidate actions forward in latent space and score the
squared distance between the predicted and the goal embedding (LeWM's planning energy), for a
batch of episodes at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, cast

import torch
from torch import Tensor

from jepa_bench.config import PLAN_OBJECTIVES, PlanObjective
from jepa_bench.planning.planners import BatchCost, Planner, PlanResult

CPU_ENCODE_CHUNK = 4  # episodes per encoder call on a CPU


class LatentDynamics(Protocol):
    """What planning needs of a world model: ``encode`` and ``predict`` (see ``WorldModel``)."""

    def encode(self, obs: Tensor) -> Tensor: ...

    def predict(self, history: Tensor, actions: Tensor) -> Tensor: ...


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one intra-op thread: oneDNN convolutions round differently with the
    thread count, and an encoding must not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latent_rollout(
    model: LatentDynamics, z_ctx: Tensor, a_ctx: Tensor, cand: Tensor, history: int | None
) -> Tensor:
    """Predicted latents (B, N, H, D) of candidates (B, N, H, A) after context latents
    (B, K, D) and actions (B, K-1, A).

    The predictor sees the context followed by its own predictions, at most ``history`` steps
    of them (all when None). All B x N rollouts go through ``predict`` as one batch.
    """
    b, n, h, a = cand.shape
    k, d = z_ctx.shape[1:]
    zs = list(z_ctx[:, None].expand(b, n, k, d).reshape(b * n, k, d).unbind(1))  # K x (BN, D)
    acts = list(a_ctx[:, None].expand(b, n, k - 1, a).reshape(b * n, k - 1, a).unbind(1))
    flat = cand.reshape(b * n, h, a)
    out = []
    for t in range(h):
        acts.append(flat[:, t])
        lo = 0 if history is None else max(0, len(zs) - history)
        z = model.predict(torch.stack(zs[lo:], 1), torch.stack(acts[lo:], 1))  # (BN, D)
        zs.append(z)
        out.append(z)
    return torch.stack(out, 1).reshape(b, n, h, -1)


class LatentPlanner:
    """A planner on a world model's latents: cost = squared distance to the goal embedding.

    ``objective`` "final" scores the last predicted latent (LeWM); "mean" averages over the
    horizon, which also rewards arriving early and staying. Costs are summed in float64.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        planner: Planner,
        action_dim: int,
        objective: PlanObjective = "final",
        device: torch.device | str = "cpu",
    ) -> None:
        if objective not in PLAN_OBJECTIVES:
            raise ValueError(f"objective must be one of {PLAN_OBJECTIVES}, got {objective!r}")
        # nn.Module.__getattr__ types every attribute as Tensor | Module, hiding the methods
        self.model = cast(LatentDynamics, model)
        self.planner, self.objective = planner, objective
        self.action_dim = action_dim
        self.device = torch.device(device)
        # how many encoded frames the predictor can use; models without the attribute get one
        self.history: int | None = getattr(model, "history_size", None)
        self.context = int(self.history or 1)

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        """Latents (B, K, D) of observation frames (B, K, C, H, W), on one thread.

        On a CPU, episodes are encoded ``CPU_ENCODE_CHUNK`` at a time: a convolutional encoder's
        activations then stay in cache (2-3x faster than one large batch on our CPUs).
        """
        frames = frames.to(self.device, torch.float32)
        step = CPU_ENCODE_CHUNK if self.device.type == "cpu" else max(1, len(frames))
        with one_thread():
            return torch.cat(
                [self.model.encode(frames[i : i + step]) for i in range(0, len(frames), step)]
            )

    def cost_fn(
        self, z_ctx: Tensor, a_ctx: Tensor, z_goal: Tensor, offset: Tensor | None = None
    ) -> BatchCost:
        """Planning energy (B, N) float64 of candidates after context latents (B, K, D) and
        actions (B, K-1, A), toward goals z_goal (B, D); ``offset`` (B, >= H, D) is added to the
        predicted latents first (``planning.residual``)."""
        goal = z_goal.to(torch.float64)[:, None, None]  # (B, 1, 1, D)

        def cost(cand: Tensor) -> Tensor:
            z = latent_rollout(self.model, z_ctx, a_ctx, cand, self.history)  # (B, N, H, D)
            if offset is not None:
                z = z + offset[:, None, : z.shape[2]]
            sq = ((z.to(torch.float64) - goal) ** 2).sum(-1)  # (B, N, H)
            if self.objective == "final":
                return sq[..., -1]
            if self.objective == "ramp":  # PLDM's weights: linear from 0.1 to 1 over the horizon
                w = torch.linspace(0.1, 1.0, sq.shape[-1], dtype=sq.dtype, device=sq.device)
                return (sq * w).sum(-1) / w.sum()
            return sq.mean(-1) if self.objective == "mean" else sq.amin(-1)

        return cost

    def plan(
        self,
        z_ctx: Tensor,
        a_ctx: Tensor,
        z_goal: Tensor,
        init: Tensor,
        generators: Sequence[torch.Generator],
        offset: Tensor | None = None,
    ) -> PlanResult:
        """One planning call per episode: sequences (B, H, A) from the contexts toward z_goal."""
        if z_ctx.ndim != 3 or z_goal.shape != (z_ctx.shape[0], z_ctx.shape[2]):
            raise ValueError(
                f"expected z_ctx (B, K, D) and z_goal (B, D); got {tuple(z_ctx.shape)}, "
                f"{tuple(z_goal.shape)}"
            )
        if a_ctx.shape[:2] != (z_ctx.shape[0], z_ctx.shape[1] - 1):
            raise ValueError(f"{z_ctx.shape[1]} context latents need {z_ctx.shape[1] - 1} actions")
        fn = self.cost_fn(z_ctx, a_ctx.to(self.device, torch.float32), z_goal, offset)
        init = init.to(self.device)
        if self.planner.differentiable:
            return self.planner.solve(fn, init, generators)
        with torch.no_grad():
            return self.planner.solve(fn, init, generators)
