"""Collapse statistics of a set of latents (N, D) and a rule that calls them collapsed.

Statistics (covariance with N - 1 in the denominator, computed in float64):

- ``std_min`` / ``std_mean``: the smallest and the mean per-dimension standard deviation.
- ``rms``: root mean square of the raw values, the latents' overall scale (mean included).
- ``effective_rank``: exp of the Shannon entropy of the normalised covariance eigenvalues
  (Roy & Vetterli 2007); D for isotropic latents, 1 when all variance lies on one line.
- ``top_pc_share``: share of the total variance in the first principal component.
- ``eigenvalues``: the covariance spectrum, largest first (for plots).

A zero covariance has no direction: by convention its effective rank is 0 and its top share 1.

Rule of ``is_collapsed``, checked in this order (the first condition that holds is reported):

1. ``constant``: std_mean <= 0.01 * rms. The latents vary by less than 1% of their own magnitude,
   so whatever they encode is a small perturbation of one constant vector (all-zero latents are
   caught here too). Relative to ``rms`` rather than absolute, so rescaled latents judge the same.
2. ``dominant direction``: top_pc_share > 0.9 (only for D >= 2). Over 90% of the variance lies
   on one line; the benchmark's tasks have at least two independent factors (e.g. a dot's x
   and y), which then cannot both be read from the latents.
3. ``low effective rank``: effective_rank < 2 (only for D >= 2). The spectrum is so uneven that
   fewer than two directions carry information, even if no single one reaches 90%.
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import torch
from torch import Tensor

#: Thresholds of the rule above.
CONSTANT_RATIO = 0.01
TOP_PC_MAX = 0.9
MIN_EFFECTIVE_RANK = 2.0


def _as_array(z: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(z, Tensor):
        z = z.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(z, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] < 1:
        raise ValueError(f"collapse_stats expects latents of shape (N, D), got {arr.shape}")
    arr = arr.reshape(-1, arr.shape[-1])  # (N, D); leading dims such as (B, T) are flattened
    if arr.shape[0] < 1:
        raise ValueError("collapse_stats needs at least one latent vector, got N = 0")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"collapse_stats: {bad} of {arr.size} latent values are NaN or infinite")
    return arr


def effective_rank(eigenvalues: np.ndarray) -> float:
    """exp(entropy) of the normalised non-negative spectrum; 0 for an all-zero spectrum."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = lam.sum()
    if total <= 0:
        return 0.0
    p = lam[lam > 0] / total
    return float(math.exp(-(p * np.log(p)).sum()))


class CollapseStats(TypedDict):
    """What ``collapse_stats`` measures on latents (N, D)."""

    n: float
    dim: float
    std_min: float
    std_mean: float
    rms: float
    effective_rank: float
    top_pc_share: float
    eigenvalues: list[float]


def collapse_stats(z: Tensor | np.ndarray) -> CollapseStats:
    """Per-dimension spread, effective rank, top-PC share and spectrum of latents (N, D)."""
    arr = _as_array(z)
    n, d = arr.shape
    ddof = 1 if n > 1 else 0
    centred = arr - arr.mean(axis=0)  # (N, D)
    cov = centred.T @ centred / max(n - ddof, 1)  # (D, D)
    eig = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)  # largest first
    total = float(eig.sum())
    std = np.sqrt(np.clip(np.diagonal(cov), 0.0, None))  # (D,)
    return CollapseStats(
        n=float(n),
        dim=float(d),
        std_min=float(std.min()),
        std_mean=float(std.mean()),
        rms=float(np.sqrt(np.mean(arr**2))),
        effective_rank=effective_rank(eig),
        top_pc_share=float(eig[0] / total) if total > 0 else 1.0,
        eigenvalues=[float(v) for v in eig],
    )


def is_collapsed(stats: CollapseStats) -> tuple[bool, str]:
    """Apply the module's rule to ``collapse_stats`` output; the text says which condition fired."""
    std_mean, rms = float(stats["std_mean"]), float(stats["rms"])
    top, erank = float(stats["top_pc_share"]), float(stats["effective_rank"])
    dim = int(stats["dim"])
    if std_mean <= CONSTANT_RATIO * rms:
        return True, f"constant: std_mean {std_mean:.3g} <= {CONSTANT_RATIO} * rms {rms:.3g}"
    if dim >= 2 and top > TOP_PC_MAX:
        return True, f"dominant direction: top_pc_share {top:.3f} > {TOP_PC_MAX}"
    if dim >= 2 and erank < MIN_EFFECTIVE_RANK:
        return True, f"low effective rank: {erank:.3f} < {MIN_EFFECTIVE_RANK}"
    return False, (
        f"not collapsed: std_mean {std_mean:.3g} (rms {rms:.3g}), top_pc_share {top:.3f}, "
        f"effective_rank {erank:.2f} of {dim}"
    )
