"""Offset-free planning: correct the model's predictions by the error it just made.

A world model's rollouts can be off by a large, slowly varying offset (the default-budget
convnext_mlp's 4-step predictions miss the encoded truth by more than the agent moves, and that
miss is nearly the same vector from one window to the next). Before each planning call the
executed actions of the last calls are rolled out again from the latents those calls started
from; the gap between each such prediction, ``h`` steps long, and the latent now observed is the
model's ``h``-step error. A plan's ``h``-th predicted latent is shifted by that error
(interpolated between the window lengths seen, held beyond the longest), as offset-free model
predictive control does with an output disturbance. Only ``encode`` / ``predict`` and the
episode's own observations are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from jepa_bench.planning.latent import LatentDynamics, latent_rollout


@dataclass
class PastCall:
    """Where an earlier planning call started: its step, context latents and actions."""

    step: int
    z_ctx: Tensor  # (B, K, D)
    a_ctx: Tensor  # (B, K-1, A)


def window_errors(
    model: LatentDynamics,
    calls: list[PastCall],
    z_now: Tensor,
    executed: Tensor,
    history: int | None,
    horizon: int,
) -> dict[int, Tensor]:
    """The model's error (B, D) over each window from an earlier call to now, by its length.

    ``executed`` (B, T, A) are every action taken so far; windows longer than ``horizon`` are
    skipped (no plan step is that far ahead).
    """
    now = executed.shape[1]
    out: dict[int, Tensor] = {}
    for call in calls:
        h = now - call.step
        if not 0 < h <= horizon:
            continue
        acts = executed[:, call.step :][:, None]  # (B, 1, h, A)
        pred = latent_rollout(model, call.z_ctx, call.a_ctx, acts, history)[:, 0, -1]  # (B, D)
        out[h] = z_now - pred
    return out


def offsets(errors: dict[int, Tensor], horizon: int, like: Tensor) -> Tensor:
    """Per-step corrections (B, horizon, D): linear between the known window lengths (0 at 0),
    the longest window's error beyond it; zeros when no window is known."""
    b, d = like.shape
    out = torch.zeros(b, horizon, d, dtype=like.dtype, device=like.device)
    if not errors:
        return out
    knots = [0, *sorted(errors)]
    values = [torch.zeros_like(like), *(errors[h] for h in knots[1:])]
    for j in range(1, horizon + 1):
        if j >= knots[-1]:
            out[:, j - 1] = values[-1]
            continue
        i = next(i for i in range(1, len(knots)) if knots[i] >= j)
        w = (j - knots[i - 1]) / (knots[i] - knots[i - 1])
        out[:, j - 1] = (1 - w) * values[i - 1] + w * values[i]
    return out
