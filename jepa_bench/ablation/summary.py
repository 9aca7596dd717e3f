"""Mean +- std over seeds per regulariser, as a table (markdown, CSV) and a PNG plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Metric name prefixes shown in the ablation table, in this order.
SHOWN = ("probe/", "latent_error_rel/", "latent_error/", "collapse/")


def records_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: regulariser, seed and every metric value."""
    rows = []
    for rec in records:
        row: dict[str, Any] = {"reg": rec["regularizer"]["spec"], "seed": rec["seed"]}
        for name, m in rec["metrics"].items():
            if name.startswith(SHOWN):
                row[name] = m["value"]
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Mean and std over seeds for each regulariser (columns ``<metric> mean`` / ``std``)."""
    df = records_frame(records)
    order = list(dict.fromkeys(df["reg"]))
    metrics = [c for c in df.columns if c not in ("reg", "seed")]
    grouped = df.groupby("reg", sort=False)[metrics]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    out = pd.DataFrame(index=order)
    out["seeds"] = df.groupby("reg", sort=False)["seed"].count()
    for m in metrics:
        out[f"{m} mean"] = mean[m]
        out[f"{m} std"] = std[m]
    out.index.name = "reg"
    return out


def to_markdown(summary: pd.DataFrame) -> str:
    """``mean +- std`` cells (the mean alone for one seed); collapse/collapsed shown as the share
    of collapsed seeds."""
    metrics = [c[: -len(" mean")] for c in summary.columns if c.endswith(" mean")]
    head = "| reg | seeds | " + " | ".join(metrics) + " |"
    lines = [head, "|" + "---|" * (len(metrics) + 2)]
    for reg, row in summary.iterrows():
        cells = []
        for m in metrics:
            mu, sd = row[f"{m} mean"], row[f"{m} std"]
            if m == "collapse/collapsed":
                cells.append(f"{mu:.2f}")
            else:  # one seed has no spread to show
                cells.append(f"{mu:.4g} +- {sd:.2g}" if row["seeds"] > 1 else f"{mu:.4g}")
        lines.append(f"| {reg} | {int(row['seeds'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: pd.DataFrame, path: Path) -> Path:
    """Bar charts (mean with std error bars) of the probe metrics and collapse statistics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [c[: -len(" mean")] for c in summary.columns if c.endswith(" mean")]
    panels = [m for m in metrics if m.startswith("probe/")] + [
        m
        for m in ("collapse/effective_rank", "collapse/std_mean", "latent_error_rel/mean")
        if m in metrics
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    x = np.arange(len(summary))
    for ax, m in zip(axes[0], panels):
        ax.bar(x, summary[f"{m} mean"], yerr=summary[f"{m} std"], capsize=3, color="#4c72b0")
        ax.set_xticks(x, summary.index, rotation=30, ha="right", fontsize=8)
        ax.set_title(m, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_summary(records: Sequence[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write summary.md, summary.csv, runs.csv and ablation.png into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise(records)
    paths = {
        "markdown": out_dir / "summary.md",
        "csv": out_dir / "summary.csv",
        "runs": out_dir / "runs.csv",
        "plot": out_dir / "ablation.png",
    }
    paths["markdown"].write_text(to_markdown(summary) + "\n")
    summary.to_csv(paths["csv"])
    records_frame(records).to_csv(paths["runs"], index=False)
    plot(summary, paths["plot"])
    return paths
