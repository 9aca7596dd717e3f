"""Parameters vs score (the DL25SP course scored both), one figure per headline table.

Written by ``generate_tables`` to ``plots/<table stem>_params_vs_score.svg`` and inlined in
index.html: one panel for the chance-normalised score (when a row has one) and one per main
metric, up to ``MAX_PANELS``; x = total trainable parameters (log scale), y = the headline row's
mean with its std over seeds as an error bar. Filled markers are fully verified rows, hollow ones
are not; colours are regularisers; grey crosses are the untrained twins. Labels and directions
come from the metric declarations. The SVG carries no date and ids salted by the table's name, so
the same records give the same file with the same matplotlib and two figures on one page never
share an id.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from jepa_bench.leaderboard.headline import Cell, Row, Table
from jepa_bench.leaderboard.render import SCORE_LABEL
from jepa_bench.record.io import atomic_write_text
from jepa_bench.record.metrics import arrow, label

PLOTS = "plots"
SUFFIX = "_params_vs_score.svg"
OLD_SUFFIXES = ("_params_vs_probe.svg",)  # figures of earlier versions, removed when seen
MAX_PANELS = 4
MAX_COLS = 4


def panels(table: Table) -> list[tuple[str, str]]:
    """(key, title) per panel: ``score`` first when the table has one, then the main metrics."""
    scored = table.layout.score and any(row.score.values for row in table.rows)
    out = [("score", f"{SCORE_LABEL} ↓ (1.0 = chance)")] if scored else []
    out += [(m, f"{label(m)} {arrow(m)}") for m in table.layout.mains]
    return out[:MAX_PANELS]


def _cell(row: Row, key: str) -> Cell | None:
    return row.score if key == "score" else row.metrics.get(key)


def render_plot(table: Table) -> str | None:
    """SVG text of the table's figure; None when it has nothing to plot."""
    import matplotlib
    from matplotlib.figure import Figure

    keys = panels(table)
    if not keys or not table.rows:
        return None
    regs = sorted({row.regularizer for row in table.rows})
    colours = {reg: f"C{i % 10}" for i, reg in enumerate(regs)}
    cols = min(len(keys), MAX_COLS)
    rows = math.ceil(len(keys) / cols)
    salt = f"jepa-bench:{table.stem}"
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        width, height = 3.6 * cols, 3.0 * rows + 0.9
        fig = Figure(figsize=(width, height))  # fixed margins: a layout engine costs seconds
        fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.95 / height,
                            top=1 - 0.5 / height, wspace=0.35, hspace=0.45)  # fmt: skip
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        untrained = [r for r in table.references if r.kind == "untrained"]
        for ax, (key, title) in zip(axes, keys):
            _panel(ax, key, title, table.rows, untrained, colours)
        for ax in axes[len(keys) :]:
            ax.set_visible(False)
        line = matplotlib.lines.Line2D
        handles = [line([], [], marker="o", ls="", color=colours[r], label=r) for r in regs]
        handles += [
            line([], [], marker="o", ls="", color="k", label="verified"),
            line([], [], marker="o", ls="", mfc="none", color="k", label="not verified"),
            line([], [], marker="x", ls="", color="0.5", label="untrained"),
        ]
        fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 6),
                   fontsize=7, frameon=False)  # fmt: skip
        fig.suptitle(f"{table.task} ({table.version}, {table.budget}): parameters vs score",
                     fontsize=10)  # fmt: skip
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _point(row: Row, key: str) -> tuple[float, float, float] | None:
    cell = _cell(row, key)
    if not row.params or cell is None or cell.mean is None or not math.isfinite(cell.mean):
        return None
    return float(row.params), cell.mean, cell.std or 0.0


def _panel(
    ax: Any, key: str, title: str, rows: list[Row], untrained: list[Row], colours: dict[str, str]
) -> None:
    missing = 0
    shown = 0
    for row in rows:
        point = _point(row, key)
        if point is None:
            missing += 1
            continue
        x, y, err = point
        colour = colours[row.regularizer]
        filled = row.verified == row.seeds
        ax.errorbar([x], [y], yerr=[err] if err else None, marker="o", ls="", color=colour,
                    mfc=colour if filled else "none", capsize=2)  # fmt: skip
        ax.annotate(row.model, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        shown += 1
    for row in untrained:
        point = _point(row, key)
        if point is not None:
            ax.plot([point[0]], [point[1]], marker="x", ls="", color="0.5")
            shown += 1
    if shown:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short decade overlap
        ax.margins(x=0.3, y=0.12)  # room for the labels
    ax.set_xlabel("parameters (trainable)", fontsize=8)
    ax.set_title(title if not missing else f"{title} ({missing} row(s) without a value)",
                 fontsize=8)  # fmt: skip
    ax.tick_params(labelsize=7)
    ax.grid(True, which="both", alpha=0.3)


def plot_path(leaderboard_dir: str | Path, stem: str) -> Path:
    """Where the figure of the table ``stem`` is written."""
    return Path(leaderboard_dir) / PLOTS / f"{stem}{SUFFIX}"


def write_plots(leaderboard_dir: str | Path, tables: list[Table]) -> dict[str, Path]:
    """Write one figure per table (only when changed); remove figures of gone tables."""
    written: dict[str, Path] = {}
    for table in tables:
        text = render_plot(table)
        if text is None:
            continue
        path = plot_path(leaderboard_dir, table.stem)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        written[table.stem] = path
    folder = Path(leaderboard_dir) / PLOTS
    if folder.is_dir():
        for suffix in (SUFFIX, *OLD_SUFFIXES):
            for stale in folder.glob(f"*{suffix}"):
                if stale not in written.values():
                    stale.unlink()
    return written
