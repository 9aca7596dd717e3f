"""Parameters vs probe error (the DL25SP course scored both), one figure per table: per task
version and evaluation protocol (``tables.table_version``).

Written by ``generate_tables`` to ``plots/<task>__<version>_params_vs_probe.svg``: one panel per
lower-is-better ``probe/`` metric, x = total trainable parameters (log scale), y = the metric;
filled markers are verified rows, hollow ones are not; colours are regularisers. The SVG carries no
date and fixed element ids, so the same records give the same file with the same matplotlib.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from jepa_bench.leaderboard.tables import table_version
from jepa_bench.record.io import atomic_write_text
from jepa_bench.record.verification import is_verified

PLOTS = "plots"
SUFFIX = "_params_vs_probe.svg"
MAX_COLS = 4


def plot_metrics(records: list[dict[str, Any]]) -> list[str]:
    """Lower-is-better ``probe/`` metric names of ``records`` in first-seen order (by run id)."""
    names: list[str] = []
    for rec in sorted(records, key=lambda r: r["run_id"]):
        for key, entry in rec["metrics"].items():
            if key.startswith("probe/") and not entry["higher_is_better"] and key not in names:
                names.append(key)
    return names


def _value(rec: dict[str, Any], key: str) -> float:
    entry = rec["metrics"].get(key) or {}
    v = entry.get("value")
    return math.nan if v is None else float(v)


def render_plot(task: str, version: str, records: list[dict[str, Any]]) -> str | None:
    """SVG text of the figure for one task version; None when it has no probe error metric."""
    import matplotlib
    from matplotlib.figure import Figure

    metrics = plot_metrics(records)
    if not metrics:
        return None
    records = sorted(records, key=lambda r: r["run_id"])
    regs = sorted({r["regularizer"].get("spec") or "default" for r in records})
    colours = {reg: f"C{i % 10}" for i, reg in enumerate(regs)}
    cols = min(len(metrics), MAX_COLS)
    rows = math.ceil(len(metrics) / cols)
    with matplotlib.rc_context({"svg.hashsalt": "jepa-bench", "svg.fonttype": "none"}):
        width, height = 3.6 * cols, 3.0 * rows + 0.9
        fig = Figure(figsize=(width, height))  # fixed margins: a layout engine costs seconds
        fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.95 / height,
                            top=1 - 0.5 / height, wspace=0.35, hspace=0.45)  # fmt: skip
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, key in zip(axes, metrics):
            _panel(ax, key, records, colours)
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        handles = [
            matplotlib.lines.Line2D([], [], marker="o", ls="", color=colours[reg], label=reg)
            for reg in regs
        ]
        handles += [
            matplotlib.lines.Line2D([], [], marker="o", ls="", color="k", label="verified"),
            matplotlib.lines.Line2D(
                [], [], marker="o", ls="", mfc="none", color="k", label="not verified"
            ),
        ]
        fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 6),
                   fontsize=7, frameon=False)  # fmt: skip
        fig.suptitle(f"{task} ({version}): parameters vs probe error", fontsize=10)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _panel(ax: Any, key: str, records: list[dict[str, Any]], colours: dict[str, str]) -> None:
    shown, missing = 0, 0
    for rec in records:
        params, value = rec["model"]["params"].get("total"), _value(rec, key)
        if not params or not math.isfinite(value):
            missing += 1
            continue
        reg = rec["regularizer"].get("spec") or "default"
        filled = is_verified(rec)
        ax.plot([params], [value], marker="o", ls="", color=colours[reg],
                mfc=colours[reg] if filled else "none")  # fmt: skip
        ax.annotate(rec["model"]["name"], (params, value), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")  # fmt: skip
        shown += 1
    if shown:
        ax.set_xscale("log")
        ax.margins(x=0.3, y=0.12)  # room for the labels
    ax.set_xlabel("parameters (trainable)", fontsize=8)
    ax.set_ylabel("probe error (lower is better)", fontsize=8)
    title = key if not missing else f"{key} ({missing} run(s) without a value)"
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, which="both", alpha=0.3)


def plot_path(leaderboard_dir: str | Path, task: str, version: str) -> Path:
    return Path(leaderboard_dir) / PLOTS / f"{task}__{version}{SUFFIX}"


def write_plots(leaderboard_dir: str | Path, records: list[dict[str, Any]]) -> list[Path]:
    """Write one figure per task version (only when changed); remove figures of gone versions."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec["task"]["name"], table_version(rec)), []).append(rec)
    written = []
    for (task, version), recs in sorted(groups.items()):
        text = render_plot(task, version, recs)
        if text is None:
            continue
        path = plot_path(leaderboard_dir, task, version)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        written.append(path)
    folder = Path(leaderboard_dir) / PLOTS
    if folder.is_dir():
        for stale in folder.glob(f"*{SUFFIX}"):
            if stale not in written:
                stale.unlink()
    return written
