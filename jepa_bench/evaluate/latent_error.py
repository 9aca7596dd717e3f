"""Multi-step latent prediction error: rolled-out predictions against encoded targets.

Raw error alone rewards collapse (a constant encoder predicts itself perfectly), so the error is
also reported relative to the targets' variance: 1.0 means no better than predicting the mean.
"""

from __future__ import annotations

import math

from torch import Tensor


def latent_error(pred: Tensor, target: Tensor) -> dict[str, float | list[float]]:
    """Per-step MSE for t = 1..T-1 between ``pred`` and ``target`` (both (N, T, D)).

    Returns ``per_step`` (mean over samples and dimensions), ``mean``, ``final`` (last step),
    the same relative to the targets' per-dimension variance (``per_step_rel``, ``rel_mean``,
    ``rel_final``; NaN when the targets have zero variance) and ``target_total_variance``
    (sum over dimensions of the variance of the targets at t >= 1).
    """
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(
            f"latent_error needs pred and target of the same (N, T, D) shape, got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.shape[1] < 2:
        raise ValueError(f"latent_error needs at least 2 time steps, got T={pred.shape[1]}")
    p, t = pred[:, 1:].double(), target[:, 1:].double()  # (N, T-1, D)
    per_step = ((p - t) ** 2).mean(dim=(0, 2))  # (T-1,)
    flat = t.reshape(-1, t.shape[-1])  # (N*(T-1), D)
    total_var = float(flat.var(dim=0, unbiased=False).sum())
    mean_var = total_var / t.shape[-1]
    if mean_var > 0 and math.isfinite(mean_var):
        rel = (per_step / mean_var).tolist()
    else:
        rel = [math.nan] * per_step.shape[0]
    per = per_step.tolist()
    return {
        "per_step": per,
        "mean": float(sum(per) / len(per)),
        "final": per[-1],
        "per_step_rel": rel,
        "rel_mean": float(sum(rel) / len(rel)),
        "rel_final": rel[-1],
        "target_total_variance": total_var,
    }
