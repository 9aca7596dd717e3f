"""A world model's planning cost: roll candidate actions forward in latent space, score the
squared distance between the predicted and the goal embedding (LeWM's planning energy)."""

from __future__ import annotations

from typing import Literal, Protocol, cast

import torch
from torch import Tensor

from jepa_bench.data.base import CostFn
from jepa_bench.planning.cem import CEMResult, CEMSettings, cem

Objective = Literal["final", "mean"]


class LatentDynamics(Protocol):
    """What planning needs of a world model: ``encode`` and ``predict`` (see ``WorldModel``)."""

    def encode(self, obs: Tensor) -> Tensor: ...

    def predict(self, history: Tensor, actions: Tensor) -> Tensor: ...


def latent_rollout(
    model: LatentDynamics, z_ctx: Tensor, a_ctx: Tensor, cand: Tensor, history: int | None
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
        action_dim: int,
        objective: Objective = "final",
        device: torch.device | str = "cpu",
    ) -> None:
        if objective not in ("final", "mean"):
            raise ValueError(f"objective must be 'final' or 'mean', got {objective!r}")
        # nn.Module.__getattr__ types every attribute as Tensor | Module, hiding the methods
        self.model = cast(LatentDynamics, model)
        self.settings, self.objective = settings, objective
        self.action_dim = action_dim
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
        return cem(fn, self.settings, self.action_dim, horizon, init_mean, generator, self.device)
