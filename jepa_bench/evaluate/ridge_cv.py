"""Linear probes whose ridge strength is chosen by episode-grouped cross-validation, and the
episode bootstrap of their R².

Windows of one episode overlap in time and share a scene, so neither the cross-validation nor the
interval may treat them as independent. A window set names each window's episode in an
``episode`` array attribute (``RobotWindows.episode``, read with ``getattr``; ``WindowSet``
itself is unchanged); a window set without one is grouped window by window.

- ``fit_ridge_cv``: for each target, the ridge strength of ``ALPHA_GRID`` (relative to the mean
  feature variance, as in ``probe.fit_linear_probe``) with the best pooled held-out R² over
  ``CV_FOLDS`` folds of the probe-train episodes (episodes in id order dealt round-robin into
  folds, so an episode never sits on both sides); ties (within ``TIE_RTOL``) go to the larger
  alpha. The head is then fitted on every probe-train window with each target's alpha. With
  fewer than two episodes there is nothing to cross-validate and ``RIDGE_ALPHA`` is used.
- ``EpisodeBootstrap``: ``BOOTSTRAP_RESAMPLES`` resamples of a split's episodes with replacement
  from the fixed ``BOOTSTRAP_SEED`` (so every model scored on a split sees the same resamples);
  the 95% percentile interval of R², widened to hold the point estimate when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from jepa_bench.evaluate.probe import RIDGE_ALPHA, LinearHead

ALPHA_GRID: tuple[float, ...] = tuple(10.0**e for e in range(-6, 3))  # 1e-6 .. 1e2, relative
CV_FOLDS = 5
TIE_RTOL = 1e-12  # CV scores this close to the best are ties (float noise): the larger alpha wins
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
BOOTSTRAP_LEVEL = 0.95


def window_groups(windows: object, n: int) -> tuple[np.ndarray, str]:
    """The episode of each of the first ``n`` windows and what the groups are ("episodes", or
    "windows" when the window set names no episodes)."""
    ep = getattr(windows, "episode", None)
    if ep is None:
        return np.arange(n, dtype=np.int64), "windows"
    ep = np.asarray(ep)
    if ep.ndim != 1 or len(ep) < n:
        raise ValueError(f"the window set's episode array has shape {ep.shape}; {n} ids needed")
    return ep[:n].astype(np.int64), "episodes"


def episode_folds(groups: np.ndarray, k: int) -> np.ndarray:
    """Fold of each window: distinct groups in sorted order dealt round-robin into
    ``min(k, groups)`` folds."""
    _, rank = np.unique(groups, return_inverse=True)
    n_groups = int(rank.max()) + 1 if rank.size else 1
    return (rank.reshape(-1) % max(1, min(k, n_groups))).astype(np.int64)


class Moments(NamedTuple):
    """Row count and sums of x, x x^T, y and x y^T of a set of (x, y) rows."""

    n: int
    sx: np.ndarray  # (D,)
    sxx: np.ndarray  # (D, D)
    sy: np.ndarray  # (K,)
    sxy: np.ndarray  # (D, K)

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> Moments:
        return cls(len(x), x.sum(0), x.T @ x, y.sum(0), x.T @ y)

    def minus(self, other: Moments) -> Moments:
        return Moments(
            self.n - other.n,
            self.sx - other.sx,
            self.sxx - other.sxx,
            self.sy - other.sy,
            self.sxy - other.sxy,
        )


class _Ridge:
    """The ridge solutions of centred moments, for any alpha (one eigendecomposition)."""

    def __init__(self, m: Moments) -> None:
        self.mx, self.my = m.sx / m.n, m.sy / m.n  # (D,), (K,)
        gram = m.sxx - m.n * np.outer(self.mx, self.mx)  # (D, D)
        cross = m.sxy - m.n * np.outer(self.mx, self.my)  # (D, K)
        self.scale = max(float(np.trace(gram)) / max(1, gram.shape[0]), 1e-12)
        s, self.v = np.linalg.eigh((gram + gram.T) / 2)
        self.s = np.clip(s, 0.0, None)
        self.proj = self.v.T @ cross  # (D, K)

    def solve(self, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (D, K) and bias (K,) for a relative alpha per output column (K,)."""
        w = self.v @ (self.proj / (self.s[:, None] + alpha[None, :] * self.scale))
        return w, self.my - self.mx @ w


@dataclass
class RidgeFit:
    """A fitted linear head and how each target's alpha was chosen."""

    head: LinearHead
    alpha: dict[str, float]  # target -> chosen alpha (relative)
    cv_r2: dict[str, list[float]] = field(default_factory=dict)  # target -> score per grid alpha
    folds: int = 0  # 0: not cross-validated (fewer than two groups)
    groups: int = 0


def _choose(scores: np.ndarray, grid: tuple[float, ...]) -> float:
    """The largest alpha whose score ties the best one (NaN scores count as -inf)."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    best = float(s.max())
    if not np.isfinite(best):
        return float(max(grid))
    tied = [a for a, v in zip(grid, s, strict=True) if v >= best - TIE_RTOL * max(1.0, abs(best))]
    return float(max(tied))


def _cv_scores(
    x: np.ndarray, t: np.ndarray, fold: np.ndarray, n_folds: int, grid: tuple[float, ...]
) -> np.ndarray:
    """Pooled held-out R2 per grid alpha and column (G, K); ``t`` centred on all rows."""
    total = Moments.of(x, t)
    sse = np.zeros((len(grid), t.shape[1]))
    for f in range(n_folds):
        out = fold == f
        ridge = _Ridge(total.minus(Moments.of(x[out], t[out])))
        for i, a in enumerate(grid):
            w, b = ridge.solve(np.full(t.shape[1], a))
            sse[i] += ((x[out] @ w + b - t[out]) ** 2).sum(0)
    sst = (t**2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)


def fit_ridge_cv(
    z: Tensor,
    y: Tensor,
    groups: np.ndarray,
    targets: dict[str, int],
    grid: tuple[float, ...] = ALPHA_GRID,
    folds: int = CV_FOLDS,
) -> RidgeFit:
    """Ridge regression of ``y`` (N, T, K) on ``z`` (N, T, D) with a cross-validated alpha per
    target (``targets``: name -> columns, in order, summing to K); ``groups``: (N,) episodes."""
    d, k = z.shape[-1], y.shape[-1]
    if sum(targets.values()) != k or len(groups) != len(z):
        raise ValueError(f"targets {targets} / {len(groups)} groups do not fit y {tuple(y.shape)}")
    x = z.reshape(-1, d).double().numpy()
    t = y.reshape(-1, k).double().numpy()
    x_mean, t_mean = x.mean(0), t.mean(0)
    x, t = x - x_mean, t - t_mean  # centred once, so the moments keep their precision
    n_groups = len(np.unique(groups))
    n_folds = min(folds, n_groups) if n_groups >= 2 else 0
    cols = np.repeat(np.arange(len(targets)), list(targets.values()))  # target of each column
    alpha = np.full(len(targets), RIDGE_ALPHA)
    cv_r2: dict[str, list[float]] = {}
    if n_folds:
        fold = np.repeat(episode_folds(groups, folds), z.shape[1])  # (N*T,)
        r2 = _cv_scores(x, t, fold, n_folds, grid)  # (G, K)
        for j, name in enumerate(targets):
            own = r2[:, cols == j]
            keep = np.isfinite(own).all(0)  # constant columns have no R2
            score = own[:, keep].mean(1) if keep.any() else np.full(len(grid), np.nan)
            cv_r2[name] = [float(v) for v in score]
            alpha[j] = _choose(score, grid)
    w, b = _Ridge(Moments.of(x, t)).solve(alpha[cols])
    b = t_mean + b - x_mean @ w  # undo the centring: y = z @ w + b
    head = LinearHead(torch.from_numpy(w).float(), torch.from_numpy(b).float())
    chosen = {name: float(alpha[j]) for j, name in enumerate(targets)}
    return RidgeFit(head, chosen, cv_r2, n_folds, n_groups)


class EpisodeBootstrap:
    """Resamples of a split's episodes with replacement, drawn once and shared by its targets."""

    def __init__(
        self,
        groups: np.ndarray,
        resamples: int = BOOTSTRAP_RESAMPLES,
        seed: int = BOOTSTRAP_SEED,
        level: float = BOOTSTRAP_LEVEL,
    ) -> None:
        self.ids, self.rank = np.unique(groups, return_inverse=True)
        self.rank = self.rank.reshape(-1)
        e = len(self.ids)
        draws = np.random.default_rng(seed).integers(0, e, size=(resamples, e))
        self.counts = np.zeros((resamples, e))
        np.add.at(self.counts, (np.repeat(np.arange(resamples), e), draws.reshape(-1)), 1.0)
        self.resamples, self.seed, self.level = resamples, seed, level

    def r2_samples(self, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """R2 (mean over coordinates) of each resample: (resamples,); ``pred``, ``y``: (N, T, K)."""
        e, k = len(self.ids), y.shape[-1]
        p = pred.reshape(len(pred), -1, k).astype(np.float64)
        t = y.reshape(len(y), -1, k).astype(np.float64)
        t_c = t - t.reshape(-1, k).mean(0)  # centred: sums of squares keep their precision
        per = np.zeros((4, e, k))  # rows, sum y, sum y^2, sum of squared errors per episode
        np.add.at(per[0], self.rank, np.full((len(t), k), float(t.shape[1])))
        np.add.at(per[1], self.rank, t_c.sum(1))
        np.add.at(per[2], self.rank, (t_c**2).sum(1))
        np.add.at(per[3], self.rank, ((p - t) ** 2).sum(1))
        n, sy, syy, sse = (self.counts @ per[i] for i in range(4))  # (R, K) each
        sst = syy - sy**2 / n
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)
        return r2.mean(1)

    def r2_interval(self, pred: np.ndarray, y: np.ndarray, point: float) -> tuple[float, float]:
        """The percentile interval of R2, widened to hold ``point``; NaN when there is none."""
        samples = self.r2_samples(pred, y)
        samples = samples[np.isfinite(samples)]
        if not samples.size or not np.isfinite(point):
            return float("nan"), float("nan")
        tail = (1.0 - self.level) / 2
        lo, hi = np.quantile(samples, [tail, 1.0 - tail])
        return float(min(lo, point)), float(max(hi, point))

    def describe(self) -> dict[str, object]:
        return {
            "episodes": int(len(self.ids)),
            "resamples": self.resamples,
            "seed": self.seed,
            "level": self.level,
        }
