"""Latent-space figures: PCA, nearest neighbours with their frames, t-SNE, collapse statistics.

One function per figure; each draws on a fresh ``matplotlib.figure.Figure`` (Agg, no pyplot state),
writes a PNG to ``path`` and returns it. Curves over steps live in ``figures_curves``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from jepa_bench.evaluate.collapse import CollapseStats
from jepa_bench.report.analysis import Neighbours, pca_fit, pca_project

DPI = 90
ENC_COLOUR, PRED_COLOUR = "tab:blue", "tab:orange"
# colour of observation channel i when a task has other than 3 channels (wall_door: agent, wall)
CHANNEL_COLOURS = np.array(
    [[1.0, 0.25, 0.2], [0.75, 0.75, 0.75], [0.2, 0.5, 1.0], [0.3, 0.9, 0.3], [1.0, 0.8, 0.2]]
)


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG."""
    path = Path(path)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def to_rgb(obs: np.ndarray) -> np.ndarray:
    """An observation (C, H, W) in [0, 1] as an RGB image (H, W, 3); other channel counts mixed."""
    obs = np.clip(np.asarray(obs, dtype=np.float64), 0.0, 1.0)
    if obs.ndim != 3:
        raise ValueError(f"an observation must have shape (C, H, W), got {obs.shape}")
    if obs.shape[0] == 3:
        return obs.transpose(1, 2, 0)
    if obs.shape[0] == 1:
        return np.repeat(obs.transpose(1, 2, 0), 3, axis=2)
    colours = CHANNEL_COLOURS[np.arange(obs.shape[0]) % len(CHANNEL_COLOURS)]  # (C, 3)
    return np.clip(np.einsum("chw,ck->hwk", obs, colours), 0.0, 1.0)


def pca_figure(
    enc: np.ndarray,
    seq: np.ndarray,
    t: np.ndarray,
    path: str | Path,
    names: list[str] | None = None,
) -> Path:
    """PCA of encoded latents (P, D): coloured by sequence (with its trajectory) and by time.

    ``names``: a label per sequence index, shown in a legend when there are at most 12.
    """
    mean, axes, share = pca_fit(enc)
    xy = pca_project(enc, mean, axes)  # (P, 2)
    fig = Figure(figsize=(11, 4.6))
    ax1, ax2 = fig.subplots(1, 2)
    tab = colormaps["tab20"]
    for i, s in enumerate(np.unique(seq)):
        m = seq == s
        order = np.argsort(t[m], kind="stable")
        pts = xy[m][order]
        ax1.plot(pts[:, 0], pts[:, 1], "-", lw=0.6, alpha=0.5, color=tab(i % 20))
        label = names[int(s)] if names is not None else None
        ax1.scatter(pts[:, 0], pts[:, 1], s=7, color=tab(i % 20), label=label)
    if names is not None and len(np.unique(seq)) <= 12:
        ax1.legend(fontsize=7, ncol=2)
    ax1.set_title(f"coloured by sequence ({len(np.unique(seq))}; lines follow time)")
    sc = ax2.scatter(xy[:, 0], xy[:, 1], c=t, s=7, cmap="viridis")
    fig.colorbar(sc, ax=ax2, label="frame t")
    ax2.set_title("coloured by time within the sequence")
    for ax in (ax1, ax2):
        ax.set_xlabel(f"PC1 ({share[0]:.0%} of variance)")
        ax.set_ylabel(f"PC2 ({share[1]:.0%})")
    fig.suptitle("PCA of encoded latents")
    return save(fig, path)


def neighbours_figure(
    enc: np.ndarray,
    nb: Neighbours,
    frames: np.ndarray,
    captions: list[list[str]],
    visual_ratio: float,
    path: str | Path,
) -> Path:
    """Anchors and their latent neighbours in PCA space, beside the actual frames.

    ``frames``: (A, 1 + K, C, H, W) anchor then neighbour observations; ``captions``: (A, 1 + K)
    labels; ``visual_ratio``: mean pixel distance anchor-neighbour / anchor-random frame.
    """
    a, k1 = frames.shape[:2]
    mean, axes, share = pca_fit(enc)
    xy = pca_project(enc, mean, axes)
    fig = Figure(figsize=(5.0 + 1.45 * k1, max(4.2, 1.5 * a)))
    gs = fig.add_gridspec(1, 2, width_ratios=[4.5, 1.35 * k1])
    ax = fig.add_subplot(gs[0])
    ax.scatter(xy[:, 0], xy[:, 1], s=4, color="0.8", label="all frames")
    for r in range(a):
        p, q = xy[nb.anchors[r]], xy[nb.idx[r]]
        for x, y in q:
            ax.plot([p[0], x], [p[1], y], "-", color="tab:blue", lw=0.5, alpha=0.6)
        ax.scatter(q[:, 0], q[:, 1], s=14, color="tab:blue", label="neighbours" if r == 0 else None)
        ax.scatter(p[0], p[1], s=70, marker="x", color="red", label="anchors" if r == 0 else None)
        ax.annotate(str(r + 1), p, textcoords="offset points", xytext=(4, 4), color="red")
    ax.set_xlabel(f"PC1 ({share[0]:.0%})")
    ax.set_ylabel(f"PC2 ({share[1]:.0%})")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("latent neighbours in PCA space")
    sub = gs[1].subgridspec(a, k1, wspace=0.05, hspace=0.35)
    for r in range(a):
        for c in range(k1):
            im = fig.add_subplot(sub[r, c])
            im.imshow(to_rgb(frames[r, c]), interpolation="nearest")
            im.set_xticks([])
            im.set_yticks([])
            im.set_title(captions[r][c], fontsize=6.5, color="red" if c == 0 else "black")
            if c == 0:
                for side in im.spines.values():
                    side.set_edgecolor("red")
                    side.set_linewidth(2)
    where = "other sequences" if nb.other_sequences.all() else "any sequence"
    fig.suptitle(
        f"Nearest neighbours (from {where}) with their frames; pixel distance to neighbours / "
        f"to random frames = {visual_ratio:.2f} (< 1: neighbours look alike)"
    )
    return save(fig, path)


def tsne_figure(emb: np.ndarray, is_pred: np.ndarray, total: int, path: str | Path) -> Path:
    """t-SNE map of encoder and predictor latents of the same frames, overlaid."""
    fig = Figure(figsize=(6.2, 5.4))
    ax = fig.subplots()
    for mask, colour, name in (
        (~is_pred, ENC_COLOUR, "encoder"),
        (is_pred, PRED_COLOUR, "predictor"),
    ):
        ax.scatter(emb[mask, 0], emb[mask, 1], s=5, alpha=0.55, color=colour, label=name)
    ax.legend(markerscale=3)
    ax.set_xticks([])
    ax.set_yticks([])
    n = int((~is_pred).sum())
    sub = "all frames" if n >= total else f"{n} of {total} frames, subsampled"
    ax.set_title(f"t-SNE: encoder vs predictor latents ({sub})")
    return save(fig, path)


def collapse_figure(
    enc: np.ndarray, stats: CollapseStats, enc_untrained: np.ndarray,
    stats_untrained: CollapseStats, message: str, path: str | Path,
) -> Path:  # fmt: skip
    """Per-dimension std histogram, eigenvalue spectrum and effective rank, trained vs untrained."""
    fig = Figure(figsize=(13, 3.9))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    std_t = enc.std(axis=0, ddof=1) if len(enc) > 1 else np.zeros(enc.shape[1])
    std_u = enc_untrained.std(axis=0, ddof=1) if len(enc) > 1 else np.zeros(enc.shape[1])
    bins = np.linspace(0.0, max(float(std_t.max()), float(std_u.max()), 1e-12) * 1.05, 30)
    ax1.hist(std_u, bins=bins, color="0.6", alpha=0.6, label="untrained")
    ax1.hist(std_t, bins=bins, color=ENC_COLOUR, alpha=0.7, label="trained")
    ax1.set_xlabel("std of one latent dimension")
    ax1.set_ylabel("dimensions")
    ax1.legend()
    ax1.set_title("per-dimension spread")
    for st, colour, name in ((stats_untrained, "0.5", "untrained"), (stats, ENC_COLOUR, "trained")):
        eig = np.asarray(st["eigenvalues"], dtype=np.float64)
        share = eig / eig.sum() if eig.sum() > 0 else eig
        keep = share > 0
        ax2.plot(
            np.arange(1, len(eig) + 1)[keep], share[keep], "o-", ms=3, color=colour, label=name
        )
    ax2.set_yscale("log")
    ax2.set_xlabel("principal component")
    ax2.set_ylabel("share of variance")
    ax2.legend()
    ax2.set_title("eigenvalue spectrum")
    d = int(stats["dim"])
    vals = [float(stats_untrained["effective_rank"]), float(stats["effective_rank"])]
    ax3.bar(["untrained", "trained"], vals, color=["0.6", ENC_COLOUR])
    ax3.axhline(d, color="k", ls="--", lw=1, label=f"D = {d}")
    ax3.axhline(2.0, color="red", ls=":", lw=1, label="collapse threshold (2)")
    for i, v in enumerate(vals):
        ax3.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom")
    ax3.set_ylabel("effective rank")
    ax3.legend(fontsize=8)
    ax3.set_title("effective rank")
    fig.suptitle(f"Collapse statistics of encoded latents: {message}", fontsize=10)
    return save(fig, path)
