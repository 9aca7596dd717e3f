"""Figures over steps and metrics: drift, training curves, probes, checkpoints, run comparison.

Functions taking lists draw one or several runs on the same axes (the side-by-side case).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from jepa_bench.report.figures import save

SKIP_LOG_KEYS = {"step", "elapsed_s", "samples_per_s"}


@dataclass
class Curve:
    """A labelled curve over steps (index = step)."""

    label: str
    values: np.ndarray


def _colour(i: int, first_grey: bool = False) -> Any:
    """Series colours; with ``first_grey`` the first series (a baseline) is grey."""
    if first_grey:
        return "0.55" if i == 0 else colormaps["tab10"](i % 10)
    return colormaps["tab10"](i % 10)


def rupture_step(rel: np.ndarray, threshold: float = 1.0) -> int | None:
    """First step t >= 1 whose relative error exceeds ``threshold`` (None if none does)."""
    over = np.flatnonzero(np.asarray(rel)[1:] > threshold)
    return int(over[0]) + 1 if len(over) else None


def drift_figure(
    curves: list[Curve],
    markers: Mapping[str, float],
    counts: np.ndarray | None,
    path: str | Path,
    first_grey: bool = False,
) -> Path:
    """Relative rollout error vs autoregressive step, with the training lengths marked.

    ``markers``: label -> step drawn as a vertical line; ``counts``: sequences reaching each
    step (drawn below when it varies, i.e. episodes of different lengths); ``first_grey``: the
    first curve is a baseline (the untrained model).
    """
    varying = counts is not None and len(np.unique(counts)) > 1
    fig = Figure(figsize=(8.5, 5.4 if varying else 4.3))
    if varying:
        ax, axc = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        ax, axc = fig.subplots(), None
    positive = True
    for i, c in enumerate(curves):
        steps = np.arange(1, len(c.values))
        colour = _colour(i, first_grey)
        ax.plot(steps, c.values[1:], "-", color=colour, label=c.label, lw=1.6)
        positive &= bool(np.all(c.values[1:] > 0))
        r = rupture_step(c.values)
        if r is not None:
            ax.plot([r], [c.values[r]], "v", color=colour, ms=8)
    ax.axhline(1.0, color="k", ls=":", lw=1, label="mean-latent baseline (= 1)")
    styles = ["--", "-.", (0, (5, 1, 1, 1))]
    for j, (name, x) in enumerate(markers.items()):
        ax.axvline(x, color="0.35", ls=styles[j % len(styles)], lw=1.2, label=name)
    if positive:
        ax.set_yscale("log")
    ax.set_ylabel("rollout MSE / latent variance")
    ax.legend(fontsize=8)
    ax.set_title("Predictive drift (triangle: first step worse than the mean latent)")
    if axc is not None:
        assert counts is not None  # axc exists only when the counts vary
        axc.step(np.arange(len(counts)), counts, where="mid", color="0.3")
        axc.set_ylabel("sequences")
        axc.set_xlabel("autoregressive step")
    else:
        ax.set_xlabel("autoregressive step")
    return save(fig, path)


def _log_keys(logs: list[list[dict[str, Any]]]) -> list[str]:
    keys: list[str] = []
    for log in logs:
        for row in log:
            keys += [k for k in row if k not in SKIP_LOG_KEYS and k not in keys]
    first = [k for k in ("loss",) if k in keys]
    last = [k for k in ("lr", "grad_norm") if k in keys]
    return first + sorted(k for k in keys if k not in first + last) + last


def training_figure(logs: list[tuple[str, list[dict[str, Any]]]], path: str | Path) -> Path:
    """One panel per logged term (loss first, lr and grad norm last); one line per run."""
    keys = _log_keys([log for _, log in logs])
    if not keys:
        fig = Figure(figsize=(6, 2.5))
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no training log (train_log.jsonl is empty or missing)", ha="center")
        ax.set_axis_off()
        return save(fig, path)
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(4.3 * cols, 2.9 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, key in zip(axes, keys):
        positive = True
        for i, (label, log) in enumerate(logs):
            pts = [(r["step"], r[key]) for r in log if isinstance(r.get(key), (int, float))]
            if not pts:
                continue
            x, y = np.array(pts, dtype=np.float64).T
            ax.plot(x, y, "o-" if len(x) < 20 else "-", ms=3, color=_colour(i), label=label)
            finite = y[np.isfinite(y)]
            positive &= bool(len(finite) and finite.min() > 0)
            if positive and finite.max() / finite.min() > 100:
                ax.set_yscale("log")
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
    for ax in axes[len(keys) :]:
        ax.set_axis_off()
    if len(logs) > 1:
        axes[0].legend(fontsize=7)
    fig.suptitle("Training curves per loss term")
    fig.tight_layout()
    return save(fig, path)


def grouped_bars(
    ax: Any, groups: list[str], series: dict[str, list[float]], first_grey: bool = True
) -> None:
    """Bars of each series side by side within each group; NaN values are left out."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (name, vals) in enumerate(series.items()):
        v = np.array(vals, dtype=np.float64)
        pos = x - 0.4 + width * (i + 0.5)
        ok = np.isfinite(v)
        ax.bar(pos[ok], v[ok], width, color=_colour(i, first_grey), label=name)
        for p, val in zip(pos[ok], v[ok]):
            ax.annotate(f"{val:.3g}", (p, val), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=20 if len(groups) > 4 else 0, fontsize=8)


def probe_figure(
    r2: dict[str, dict[str, float]],
    r2_title: str,
    mse: dict[str, dict[str, float]],
    path: str | Path,
    first_grey: bool = True,
) -> Path:
    """R2 per target and (when given) MSE per split; each a {series: {name: value}} mapping.

    ``first_grey``: the first series is a baseline (the untrained model).
    """
    panels = [(r2, r2_title, "R2 (higher is better)")]
    if mse:
        panels.append((mse, "probe MSE per split (px^2, lower is better)", "MSE"))
    fig = Figure(figsize=(5.5 * len(panels), 4.0))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (data, title, ylabel) in zip(axes, panels):
        names = list(dict.fromkeys(n for vals in data.values() for n in vals))
        series = {s: [v.get(n, math.nan) for n in names] for s, v in data.items()}
        grouped_bars(ax, names, series, first_grey)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    fig.suptitle("Probes: how much of the state the latents give away")
    return save(fig, path)


def checkpoints_figure(stats: list[Any], window_len: int, path: str | Path) -> Path:
    """Drift, ridge-probe R2 and effective rank of each checkpoint (``CheckpointStats``)."""
    fig = Figure(figsize=(15, 4.2))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, s in enumerate(stats):
        steps = np.arange(1, len(s.drift_rel))
        ax1.plot(steps, s.drift_rel[1:], color=_colour(i, True), label=s.label)
    ax1.axhline(1.0, color="k", ls=":", lw=1)
    ax1.axvline(window_len - 1, color="0.4", ls="--", lw=1, label="training window")
    if all(np.all(s.drift_rel[1:] > 0) for s in stats):
        ax1.set_yscale("log")
    ax1.set_xlabel("autoregressive step")
    ax1.set_ylabel("rollout MSE / latent variance")
    ax1.legend(fontsize=7)
    ax1.set_title("predictive drift")
    targets = list(dict.fromkeys(t for s in stats for t in s.probe_r2))
    r2 = {s.label: [s.probe_r2.get(t, math.nan) for t in targets] for s in stats}
    grouped_bars(ax2, targets, r2)
    ax2.axhline(0, color="k", lw=0.6)
    ax2.set_title("ridge-probe R2 on encoded latents", fontsize=10)
    ax2.legend(fontsize=7)
    grouped_bars(
        ax3,
        ["effective rank", "within/across var x100"],
        {s.label: [s.effective_rank, 100 * s.temporal_ratio] for s in stats},
    )
    ax3.set_title("latent spread", fontsize=10)
    ax3.legend(fontsize=7)
    fig.suptitle("Checkpoints compared over training")
    return save(fig, path)


def summary_figure(
    rows: dict[str, dict[str, float]], thresholds: dict[str, float], path: str | Path
) -> Path:
    """Per-run bars of the diagnosis numbers (the ablation view): {run: {number: value}}.

    ``thresholds``: number -> the rule's threshold, drawn as a red dotted line.
    """
    names = list(dict.fromkeys(n for vals in rows.values() for n in vals))
    fig = Figure(figsize=(3.2 * len(names), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        vals = [rows[r].get(name, math.nan) for r in rows]
        ok = [i for i, v in enumerate(vals) if math.isfinite(v)]
        ax.bar([i for i in ok], [vals[i] for i in ok], color=[_colour(i) for i in ok])
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([f"run {i + 1}" for i in range(len(rows))], fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.axhline(0, color="k", lw=0.6)
        if name in thresholds:
            ax.axhline(thresholds[name], color="red", ls=":", lw=1.2, label="rule threshold")
            ax.legend(fontsize=7)
        finite = [vals[i] for i in ok]
        if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
            ax.set_yscale("log")
    fig.suptitle("Runs side by side: the numbers behind each verdict")
    fig.tight_layout()
    return save(fig, path)
