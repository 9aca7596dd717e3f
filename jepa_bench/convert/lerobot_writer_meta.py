"""Statistics and metadata files of a LeRobot dataset being written (see ``lerobot_writer``)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

STATS = ("min", "max", "mean", "std", "count")


class FeatureStats:
    """Per-episode min / max / mean / std / count of columns and of camera frames (in [0, 1])."""

    def __init__(self) -> None:
        self._cols: dict[int, dict[str, dict[str, np.ndarray]]] = defaultdict(dict)
        self._img: dict[int, dict[str, list[np.ndarray]]] = defaultdict(dict)

    def add_column(self, ep: int, key: str, values: np.ndarray) -> None:
        v = values.astype(np.float64).reshape(len(values), -1)  # v: (T, K)
        self._cols[ep][key] = {
            "min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0),
            "count": np.array([len(v)]),
        }  # fmt: skip

    def add_frame(self, ep: int, cam: str, frame: np.ndarray) -> None:
        px = frame[::4, ::4].reshape(-1, 3).astype(np.float64) / 255.0  # px: (P, 3)
        acc = self._img[ep].get(cam)
        part = [px.min(0), px.max(0), px.sum(0), (px**2).sum(0), np.array([len(px)]), np.ones(1)]
        if acc is None:
            self._img[ep][cam] = part
        else:
            acc[0], acc[1] = np.minimum(acc[0], part[0]), np.maximum(acc[1], part[1])
            for i in (2, 3, 4, 5):
                acc[i] = acc[i] + part[i]

    def frames(self, ep: int) -> dict[str, list[np.ndarray]]:
        """The frame accumulators of episode ``ep`` (camera -> partial sums), to merge elsewhere."""
        return dict(self._img.get(ep, {}))

    def merge_frames(self, ep: int, frames: dict[str, list[np.ndarray]]) -> None:
        """Adopt frame accumulators made by ``frames`` (of a part encoded in another process)."""
        self._img[ep] = dict(frames)

    def episode(self, ep: int) -> dict[str, dict[str, np.ndarray]]:
        out = dict(self._cols[ep])
        for cam, (lo, hi, s, s2, n, frames) in self._img[ep].items():
            mean = s / n
            std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
            out[cam] = {
                k: v.reshape(3, 1, 1)
                for k, v in {"min": lo, "max": hi, "mean": mean, "std": std}.items()
            }
            out[cam]["count"] = frames.astype(np.int64)
        return out

    def aggregate(self) -> dict[str, dict[str, np.ndarray]]:
        """Stats over all episodes (counts weight the means; variances are pooled)."""
        per_ep = [self.episode(ep) for ep in sorted(set(self._cols) | set(self._img))]
        out: dict[str, dict[str, np.ndarray]] = {}
        for key in per_ep[0]:
            parts = [p[key] for p in per_ep if key in p]
            w = np.array([float(p["count"][0]) for p in parts])
            means = np.stack([p["mean"] for p in parts])
            mean = np.tensordot(w, means, axes=1) / w.sum()
            second = np.tensordot(w, np.stack([p["std"] ** 2 for p in parts]) + means**2, axes=1)
            out[key] = {
                "min": np.min([p["min"] for p in parts], axis=0),
                "max": np.max([p["max"] for p in parts], axis=0),
                "mean": mean,
                "std": np.sqrt(np.maximum(second / w.sum() - mean**2, 0.0)),
                "count": np.array([int(w.sum())]),
            }
        return out


def _lists(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}


def write_meta(
    root: Path,
    version: str,
    stats: FeatureStats,
    episodes: list[dict[str, Any]],
    tasks: dict[str, int],
) -> None:
    """Write ``meta/``: episode table, tasks and stats in the layout of ``version``."""
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "stats.json").write_text(json.dumps(_lists(stats.aggregate()), indent=4))
    if version == "v2.1":
        with open(meta / "episodes.jsonl", "w") as fh:
            for ep in episodes:
                fh.write(json.dumps(ep) + "\n")
        with open(meta / "tasks.jsonl", "w") as fh:
            for task, i in tasks.items():
                fh.write(json.dumps({"task_index": i, "task": task}) + "\n")
        with open(meta / "episodes_stats.jsonl", "w") as fh:
            for ep in episodes:
                i = ep["episode_index"]
                fh.write(json.dumps({"episode_index": i, "stats": _lists(stats.episode(i))}) + "\n")
        return
    table = {k: [ep[k] for ep in episodes] for k in episodes[0]}
    for ep in episodes:
        for key, d in stats.episode(ep["episode_index"]).items():
            for s in STATS:
                table.setdefault(f"stats/{key}/{s}", []).append(np.ravel(d[s]).tolist())
    path = meta / "episodes" / "chunk-000" / "file-000.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(table), path)
    df = pd.DataFrame(
        {"task_index": list(tasks.values())}, index=pd.Index(list(tasks), name="task")
    )
    df.to_parquet(meta / "tasks.parquet")
