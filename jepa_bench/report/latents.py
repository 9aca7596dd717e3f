"""Rebuild a run from its directory and choose the sequences its report encodes.

``load_run`` reads config.yaml, rebuilds task and model with ``runner.build`` (which seeds, so the
rebuilt model before loading weights is the run's untrained twin) and loads model.safetensors.
``report_data`` picks the sequences a report encodes and rolls out, as long as the data allow:
whole episodes when the task has them (robot tasks; every frame whose action block lies inside
the episode), else the windows of the probe split with the longest windows (wall_door: the
expert split, 33 frames). The same sequences serve every figure, so each frame is encoded once
per model (encoding is the report's main cost).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from jepa_bench.data.base import WindowSet


@dataclass
class LoadedRun:
    """A run directory with its config, record, log, task and trained model."""

    run_dir: Path
    cfg: Any  # RunConfig
    task: Any
    model: nn.Module  # trained weights, eval mode, on ``device``
    untrained: nn.Module  # same architecture and seed, never trained
    step: int  # training step of the loaded weights
    record: dict[str, Any] | None  # result.json (None when the run has none)
    log: list[dict[str, Any]]  # train_log.jsonl rows
    device: torch.device

    @property
    def label(self) -> str:
        """Short name: model, regulariser, seed."""
        c = self.cfg
        return f"{c.task} / {c.model} / {c.reg} / s{c.seed}"


def read_log(path: Path) -> list[dict[str, Any]]:
    """JSON lines of a training log; a corrupt line is an error naming the line."""
    if not path.exists():
        return []
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {i} is not valid JSON ({e})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}: line {i} is not a JSON object")
        rows.append(row)
    return rows


def load_weights(model: nn.Module, path: Path) -> int:
    """Load a safetensors checkpoint into ``model``; errors say which file and why."""
    from jepa_bench.train.checkpoint import load_model

    try:
        return load_model(model, path)
    except FileNotFoundError:
        raise
    except Exception as e:  # corrupt file or a different architecture
        raise ValueError(f"{path}: cannot load these weights into the run's model ({e})") from None


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu", data_dir: str | None = None
) -> LoadedRun:
    """Rebuild the run's task and model and load its final weights."""
    from jepa_bench.config import RunConfig
    from jepa_bench.record.io import load_record
    from jepa_bench.runner import build, pick_device
    from jepa_bench.train.checkpoint import MODEL_FILE

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no config.yaml")
    try:
        raw = yaml.safe_load(cfg_path.read_text())
        cfg = RunConfig.from_dict(raw)
    except (yaml.YAMLError, TypeError, AttributeError) as e:
        raise ValueError(f"{cfg_path}: not a valid run configuration ({e})") from None
    if data_dir is not None:
        cfg.data_dir = data_dir
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir}: no {MODEL_FILE}; was the run interrupted?")
    dev = pick_device(str(device))
    task, untrained, _ = build(cfg)
    model = copy.deepcopy(untrained)
    step = load_weights(model, weights)
    record = load_record(run_dir / "result.json") if (run_dir / "result.json").exists() else None
    return LoadedRun(
        run_dir=run_dir,
        cfg=cfg,
        task=task,
        model=model.to(dev).eval(),
        untrained=untrained.to(dev).eval(),
        step=step,
        record=record,
        log=read_log(run_dir / "train_log.jsonl"),
        device=dev,
    )


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
    from jepa_bench.data.robot.task import RobotTask

    if isinstance(task, RobotTask):
        return task
    inner = getattr(type(task), "task", None)  # a property: only touch it when it exists
    if inner is not None:
        inner = task.task
        return inner if isinstance(inner, RobotTask) else None
    return None


def episode_sequences(rt: Any, limit: int | None) -> Sequences:
    """Whole episodes of a robot task as single windows (validation episodes first)."""
    from jepa_bench.data.robot.windows import RobotWindows, WindowShape

    r, k = rt.reader, rt.shape.frameskip
    eps = [int(e) for e in list(rt.val_eps) + list(rt.train_eps)]
    eps = [e for e in eps if r.ep_len[e] // k >= 2][: limit or None]
    if not eps:
        raise ValueError(f"{r.path}: no episode has the 2 frames a rollout needs")
    by_len: dict[int, WindowSet] = {}
    items, lengths = [], []
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
