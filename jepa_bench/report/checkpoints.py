"""Checkpoints of one run compared over training: the untrained model, snapshots, the final one.

The trainer keeps only the final ``model.safetensors``. Snapshots named
``model_step<N>.safetensors`` (N = training steps done) in the run directory are picked up when
present; without them the comparison is step 0 (the untrained twin, rebuilt with the run's seed)
against the final weights.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jepa_bench.report.analysis import temporal_ratio
from jepa_bench.report.encode import ModelLatents
from jepa_bench.report.latents import ReportData, ReportRun, load_weights

SNAPSHOT_RE = re.compile(r"^model_step(\d+)\.safetensors$")
MAX_SNAPSHOTS = 4  # snapshots drawn besides step 0 and the final weights (evenly spaced)


@dataclass
class CheckpointStats:
    """What the checkpoint figure shows for one set of weights."""

    label: str
    step: int
    drift_rel: np.ndarray  # (L,) relative rollout error per step
    effective_rank: float
    top_pc_share: float
    temporal_ratio: float
    probe_r2: dict[str, float]


def find_snapshots(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every ``model_step<N>.safetensors`` in ``run_dir``, by step."""
    found = []
    for p in Path(run_dir).iterdir():
        m = SNAPSHOT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def pick_evenly(items: list, k: int) -> list:
    """At most ``k`` items spread evenly over ``items``, always including the last."""
    if len(items) <= k:
        return list(items)
    pos = np.unique(np.round(np.linspace(0, len(items) - 1, k)).astype(int))
    return [items[i] for i in pos]


def stats_of(label: str, step: int, lat: ModelLatents) -> CheckpointStats:
    """Summarise one model's latents for the comparison."""
    return CheckpointStats(
        label=label,
        step=step,
        drift_rel=lat.drift_rel,
        effective_rank=float(lat.collapse["effective_rank"]),
        top_pc_share=float(lat.collapse["top_pc_share"]),
        temporal_ratio=temporal_ratio(lat.enc, lat.seq),
        probe_r2=dict(lat.probe_r2),
    )


def compare_checkpoints(
    run: ReportRun,
    data: ReportData,
    trained: ModelLatents,
    untrained: ModelLatents,
    latents_fn: Callable[..., ModelLatents],
    max_snapshots: int = MAX_SNAPSHOTS,
) -> list[CheckpointStats]:
    """Step 0, up to ``max_snapshots`` snapshots and the final weights, in step order."""
    out = [stats_of("untrained (step 0)", 0, untrained)]
    snaps = [(s, p) for s, p in find_snapshots(run.run_dir) if 0 < s < run.step]
    for step, path in pick_evenly(snaps, max_snapshots):
        model = copy.deepcopy(run.untrained)
        load_weights(model, path)
        lat = latents_fn(model.to(run.device).eval(), data, run.device)
        out.append(stats_of(f"step {step}", step, lat))
        del model
    out.append(stats_of(f"final (step {run.step})", run.step, trained))
    return out
