"""The output side of a conversion: create the files' columns, append rows, commit."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from jepa_bench.convert.hdf5_writer import AtomicH5Writer
from jepa_bench.convert.layout import check_lewm_h5, open_lewm_h5
from jepa_bench.convert.lerobot_meta import DONE_KEY, EpisodeMeta, LeRobotSource
from jepa_bench.convert.plan import Plan
from jepa_bench.convert.report import ConversionError, ConversionReport

# Per-step columns besides the features in ``Plan.columns``: name -> dtype.
INDEX_COLUMNS: dict[str, Any] = {
    "episode_idx": np.int64,
    "step_idx": np.int64,
    "index": np.int64,
    "task_index": np.int64,
    "timestamp": np.float32,
    "done": np.bool_,
}


Sinks = dict[Path | None, AtomicH5Writer]


def open_sinks(stack: ExitStack, out: Path, plan: Plan, opts: Any) -> Sinks:
    """Open the output file(s) under temporary names and create every column.

    Key None is the main file; a camera written to its own file is keyed by that file's path.
    """
    paths: list[Path | None] = [None, *[c.file for c in plan.cameras if c.file is not None]]
    sinks: Sinks = {}
    for key in paths:
        writer = AtomicH5Writer(key or out, opts.micro_batch, opts.compression, opts.overwrite)
        sinks[key] = stack.enter_context(writer)
        for name, (_src, width) in plan.columns.items():
            writer.column(name, (width,), np.float32)
        for name, dtype in INDEX_COLUMNS.items():
            writer.column(name, (), dtype)
    for cam in plan.cameras:
        attrs = {
            "camera": cam.key,
            "source_hw": list(cam.resizer.src_hw),
            "fit": cam.resizer.fit,
            "interpolation": cam.resizer.interp.lower(),
            "source_codec": cam.probe.codec,
        }
        sinks[cam.file].column(cam.dataset, cam.resizer.out_shape, np.uint8, attrs)
    return sinks


def episode_columns(
    rows: dict[str, np.ndarray], e: EpisodeMeta, plan: Plan
) -> dict[str, np.ndarray]:
    """The per-step columns of one episode, from its parquet rows."""
    n = len(rows["frame_index"])
    if DONE_KEY in rows:
        done = np.nan_to_num(rows[DONE_KEY].astype(np.float64)).astype(bool)
    else:
        done = np.zeros(n, dtype=bool)
    done[-1] = True  # a kept episode whose last row lacked the flag ends here all the same
    cols: dict[str, np.ndarray] = {
        "episode_idx": np.full(n, e.index, dtype=np.int64),
        "step_idx": rows["frame_index"].astype(np.int64),
        "index": rows["index"].astype(np.int64),
        "task_index": rows["task_index"].astype(np.int64)
        if "task_index" in rows
        else np.zeros(n, dtype=np.int64),
        "timestamp": rows["timestamp"].astype(np.float32),
        "done": done,
    }
    for name, (src, width) in plan.columns.items():
        cols[name] = rows[src].reshape(n, width).astype(np.float32)  # (n, width)
    return cols


def write_columns(
    sinks: Sinks,
    rows: dict[str, np.ndarray],
    e: EpisodeMeta,
    plan: Plan,
    opts: Any,
) -> int:
    """Append the episode's per-step columns to every sink; return its number of rows."""
    cols = episode_columns(rows, e, plan)
    for sink in sinks.values():
        for name, values in cols.items():
            sink.appenders[name].append(values)
    return len(cols["done"])


def _validator(expected_rows: int, expected_eps: int):
    def validate(path: Path) -> None:
        with open_lewm_h5(path, cache_mb=0) as h5:  # a chunk cache would only hold memory
            result = check_lewm_h5(h5)
            if h5.n_rows != expected_rows or h5.n_episodes != expected_eps:
                result.errors.append(
                    f"{h5.n_rows} rows in {h5.n_episodes} episodes written, "
                    f"expected {expected_rows} in {expected_eps}"
                )
        if not result.ok:
            raise ConversionError(f"{path}: the output failed validation: {result.errors}")

    return validate


def commit_all(
    sinks: Sinks,
    plan: Plan,
    src: LeRobotSource,
    report: ConversionReport,
    opts: Any,
    version: str,
    layout_version: str,
    before_final_rename: Callable[[], None] | None = None,
) -> None:
    """Validate and rename every sink, the main file last (``before_final_rename`` just before)."""
    validate = _validator(report.frames_written, len(report.episodes_written))
    hub = report.source.startswith("hf://datasets/")
    repo_id = report.source.removeprefix("hf://datasets/").split("@")[0] if hub else ""
    for key in sorted(sinks, key=lambda k: k is None):
        cams = [c for c in plan.cameras if c.file == key]
        attrs = {
            "layout_version": layout_version,
            "source": report.source,
            "source_repo_id": repo_id,
            "source_split": "all" if opts.episodes is None else "selected",
            "source_camera_key": cams[0].key,
            "camera": cams[0].key,
            "cameras": {c.dataset: c.key for c in cams},
            "fps": float(src.fps),
            "codebase_version": src.codebase_version,
            "robot_type": str(src.info.get("robot_type") or ""),
            "converter": "jepa_bench.convert",
            "converter_version": version,
            "generated_by": f"jepa-bench convert {version}",
            "options": asdict(opts),
            "episodes_dropped": report.episodes_dropped,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        sinks[key].commit(attrs, validate, before_final_rename if key is None else None)
