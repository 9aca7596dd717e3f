"""Numbers behind the report's figures: projections, neighbours and the temporal-variance ratio.

Pure numpy / scikit-learn on latents (N, D); nothing here touches models or tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check(z: np.ndarray, name: str = "latents") -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, D) with N >= 1, got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError(f"{name} contain {int((~np.isfinite(z)).sum())} NaN or infinite values")
    return z


def pca_fit(z: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (D,), the top-``k`` principal axes (k, D) and their explained-variance shares (k,).

    Axes are padded with zeros when D < k; signs are fixed so each axis' largest coefficient is
    positive (the projection is then deterministic).
    """
    z = _check(z)
    mean = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)  # vt: (min(N, D), D)
    axes = np.zeros((k, z.shape[1]))
    m = min(k, vt.shape[0])
    axes[:m] = vt[:m]
    signs = np.sign(axes[np.arange(k), np.abs(axes).argmax(axis=1)])
    axes *= np.where(signs == 0, 1.0, signs)[:, None]
    var = s**2
    share = np.zeros(k)
    if var.sum() > 0:
        share[:m] = var[:m] / var.sum()
    return mean, axes, share


def pca_project(z: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Coordinates (N, k) of latents (N, D) on principal axes from ``pca_fit``."""
    return (_check(z) - mean) @ axes.T


def subsample(n: int, m: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``m`` of ``n`` items drawn without replacement (all when m >= n)."""
    if m is None or m >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))


def tsne_2d(z: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE of latents (N, D) to (N, 2): PCA to at most 50 dimensions first, PCA initialisation.

    Perplexity is min(30, (N - 1) / 3) so small point sets work; N < 4 falls back to PCA.
    """
    from sklearn.manifold import TSNE

    z = _check(z)
    if len(z) < 4:
        mean, axes, _ = pca_fit(z)
        return pca_project(z, mean, axes)
    mean, axes, _ = pca_fit(z, min(50, z.shape[1]))
    x = pca_project(z, mean, axes)
    perplexity = float(min(30.0, (len(z) - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(x)


def temporal_ratio(z: np.ndarray, seq: np.ndarray) -> float:
    """Within-sequence variance / across-sequence variance of latents (N, D) grouped by ``seq``.

    Within: mean over sequences of each sequence's variance over time (summed over dimensions).
    Across: variance of the sequence means (summed over dimensions). Small values say the latents
    barely move within a sequence compared with how much they differ between sequences (a static
    background or layout dominates them). NaN when there is one sequence or no spread at all.
    """
    z = _check(z)
    seq = np.asarray(seq)
    if seq.shape != (len(z),):
        raise ValueError(f"seq must have shape ({len(z)},), got {seq.shape}")
    ids = np.unique(seq)
    if len(ids) < 2:
        return float("nan")
    means = np.stack([z[seq == s].mean(axis=0) for s in ids])  # (S, D)
    within = float(np.mean([z[seq == s].var(axis=0).sum() for s in ids]))
    across = float(means.var(axis=0).sum())
    if across <= 0:
        return float("inf") if within > 0 else float("nan")
    return within / across


def spread_anchors(z: np.ndarray, k: int) -> np.ndarray:
    """``k`` indices spread over the latents (farthest-point sampling from the most central)."""
    z = _check(z)
    k = min(k, len(z))
    first = int(np.argmin(((z - z.mean(axis=0)) ** 2).sum(axis=1)))
    chosen = [first]
    dist = ((z - z[first]) ** 2).sum(axis=1)
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        if dist[nxt] <= 0:  # every remaining point coincides with a chosen one
            rest = [i for i in range(len(z)) if i not in chosen]
            chosen += rest[: k - len(chosen)]
            break
        chosen.append(nxt)
        dist = np.minimum(dist, ((z - z[nxt]) ** 2).sum(axis=1))
    return np.array(chosen)


@dataclass
class Neighbours:
    """Nearest neighbours of anchor points in latent space."""

    anchors: np.ndarray  # (A,) point indices
    idx: np.ndarray  # (A, K) neighbour point indices, nearest first
    dist: np.ndarray  # (A, K) Euclidean latent distances
    other_sequences: np.ndarray  # (A,) bool: neighbours were taken from other sequences only


def nearest_neighbours(z: np.ndarray, seq: np.ndarray, anchors: np.ndarray, k: int) -> Neighbours:
    """The ``k`` nearest points to each anchor, from other sequences when there are enough.

    Neighbours from the anchor's own sequence are mostly its adjacent frames, which says little,
    so they are excluded unless fewer than ``k`` points of other sequences exist (then only the
    anchor itself is excluded).
    """
    z = _check(z)
    seq = np.asarray(seq)
    idx, dist, other = [], [], []
    for a in anchors:
        d = np.sqrt(((z - z[a]) ** 2).sum(axis=1))  # (N,)
        mask = seq != seq[a]
        use_other = mask.sum() >= k
        if not use_other:
            mask = np.arange(len(z)) != a
        cand = np.flatnonzero(mask)
        order = cand[np.argsort(d[cand], kind="stable")[:k]]
        idx.append(order)
        dist.append(d[order])
        other.append(use_other)
    return Neighbours(np.asarray(anchors), np.array(idx), np.array(dist), np.array(other))


def pixel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean square difference of two observations of the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"observations differ in shape: {a.shape} vs {b.shape}")
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))
