"""Rebuild a run from its directory and choose the sequences its report encodes.

``load_run`` rebuilds a run directory (``runner.RunDir``: config, task, trained model and untrained
twin) and reads its record and training log.
``report_data`` picks the sequences a report encodes and rolls out, as long as the data allow:
whole episodes when the task has them (robot tasks; every frame whose action block lies inside
the episode), else the windows of the probe split with the longest windows (wall_door: the
expert split, 33 frames). The same sequences serve every figure, so each frame is encoded once
per model (encoding is the report's main cost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jepa_bench.data.base import WindowSet
from jepa_bench.data.robot.task import RobotTask
from jepa_bench.data.robot.windows import RobotWindows, WindowShape
from jepa_bench.runner import LoadedRun, RunDir
from jepa_bench.train.checkpoint import load_model


@dataclass
class ReportRun(LoadedRun):
    """A run directory rebuilt for a report: the run (config, task, trained model and untrained
    twin), its record and its training log."""

    run_dir: Path
    record: dict[str, Any] | None  # result.json (None when the run has none)
    log: list[dict[str, Any]]  # train_log.jsonl rows

    @property
    def label(self) -> str:
        """Short name: task, model, regulariser, seed."""
        c = self.cfg
        return f"{c.task} / {c.model} / {c.reg} / s{c.seed}"


def load_weights(model: nn.Module, path: Path) -> int:
    """Load a safetensors checkpoint into ``model``; errors say which file and why."""
    try:
        return load_model(model, path)
    except FileNotFoundError:
        raise
    except Exception as e:  # corrupt file or a different architecture
        raise ValueError(f"{path}: cannot load these weights into the run's model ({e})") from None


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu", data_dir: str | None = None
) -> ReportRun:
    """Rebuild the run's task and model, load its final weights, read its record and log."""
    rundir = RunDir(Path(run_dir))
    loaded = rundir.load(str(device), data_dir)  # RunDirError names the file and the problem
    return ReportRun(**vars(loaded), run_dir=rundir.path, record=rundir.record(), log=rundir.log())


@dataclass
class Sequences:
    """Observation sequences (windows or whole episodes) as (window set, index) pairs."""

    name: str
    items: list[tuple[WindowSet, int]]
    lengths: np.ndarray  # (S,) frames per sequence
    episode: np.ndarray  # (S,) group id for colouring (episode index or window index)
    unit: str = "win"  # what a sequence is, for captions: "ep" (episode) or "win" (window)

    def __len__(self) -> int:
        return len(self.items)

    def frames(self, wanted: list[tuple[int, int]]) -> list[np.ndarray]:
        """Observations (C, H, W) of (sequence, frame) pairs; each sequence is read once."""
        by_seq: dict[int, list[int]] = {}
        for s, t in wanted:
            by_seq.setdefault(s, []).append(t)
        got: dict[tuple[int, int], np.ndarray] = {}
        for s, ts in by_seq.items():
            ws, j = self.items[s]
            obs = ws.batch(np.array([j])).obs[0]  # (T, C, H, W)
            for t in ts:
                got[(s, t)] = obs[t].copy()
        return [got[key] for key in wanted]


def window_sequences(name: str, ws: WindowSet, limit: int | None) -> Sequences:
    """The first ``limit`` windows of a window set, each its own sequence."""
    n = len(ws) if limit is None else min(limit, len(ws))
    if n == 0:
        raise ValueError(f"split {name!r} has no windows")
    t = int(ws.batch(np.array([0])).obs.shape[1])
    return Sequences(name, [(ws, i) for i in range(n)], np.full(n, t), np.arange(n))


def robot_task(task: Any) -> Any | None:
    """The ``RobotTask`` behind a task (itself, or a wrapper's ``task``), or None."""

    if isinstance(task, RobotTask):
        return task
    inner = getattr(type(task), "task", None)  # a property: only touch it when it exists
    if inner is not None:
        inner = task.task
        return inner if isinstance(inner, RobotTask) else None
    return None


def episode_sequences(rt: Any, limit: int | None) -> Sequences:
    """Whole episodes of a robot task as single windows (validation episodes first)."""

    r, k = rt.reader, rt.shape.frameskip
    eps = [int(e) for e in list(rt.val_eps) + list(rt.train_eps)]
    eps = [e for e in eps if r.ep_len[e] // k >= 2][: limit or None]
    if not eps:
        raise ValueError(f"{r.path}: no episode has the 2 frames a rollout needs")
    by_len: dict[int, RobotWindows] = {}
    items: list[tuple[WindowSet, int]] = []
    lengths: list[int] = []
    for e in eps:
        t = int(r.ep_len[e] // k)  # frames whose action block lies inside the episode
        if t not in by_len:
            starts = np.array([r.ep_offset[x] for x in eps if r.ep_len[x] // k == t])
            shape = WindowShape(k, t - 1, 1)
            by_len[t] = RobotWindows(
                f"episodes_T{t}", r, starts, shape, norm=rt.norm, targets=tuple(rt.targets)
            )
        ws = by_len[t]
        items.append((ws, int(np.flatnonzero(ws.starts == r.ep_offset[e])[0])))
        lengths.append(t)
    return Sequences("episodes", items, np.array(lengths), np.array(eps), unit="ep")


@dataclass
class ReportData:
    """The sequences a report encodes with every model of one run (independent of weights)."""

    seqs: Sequences
    targets: tuple[str, ...]  # per-frame probe targets the sequences carry
    train_len: float  # median frames of a training sequence (episode, or window when none)
    window_len: int  # frames of a training window
    notes: list[str] = field(default_factory=list)


def report_data(task: Any, max_windows: int | None = 64) -> ReportData:
    """Choose the report's sequences for ``task`` (see the module docstring)."""
    suites = list(task.probe_suites())
    if not suites:
        raise ValueError(f"task {task.spec.name!r} has no probe suites")
    rt = robot_task(task)
    if rt is not None:
        episodes = episode_sequences(rt, max_windows)
        k = rt.shape.frameskip
        train_len = float(np.median(rt.reader.ep_len[rt.train_eps] // k))
        notes = [f"{len(episodes)} whole episodes (validation first), frameskip {k}"]
        return ReportData(episodes, tuple(rt.targets), train_len, task.spec.seq_len, notes)
    splits = {name: (ws, s.targets) for s in suites for name, ws in s.evals.items()}
    lengths = {name: window_sequences(name, ws, 1).lengths[0] for name, (ws, _) in splits.items()}
    longest = max(splits, key=lambda name: lengths[name])  # first of the longest
    ws, targets = splits[longest]
    seqs = window_sequences(longest, ws, max_windows)
    train_len = float(window_sequences("train", task.train_set(), 1).lengths[0])
    notes = [f"{len(seqs)} windows of split {longest!r} ({int(seqs.lengths[0])} frames)"]
    return ReportData(seqs, tuple(targets), train_len, task.spec.seq_len, notes)
