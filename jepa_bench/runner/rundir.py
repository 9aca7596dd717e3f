"""A run directory, and a run rebuilt from it: what ``run`` writes and ``plan``, ``report`` and
``verify`` read back.

``OUT/<task>__<model>__<reg>__s<seed>__<budget>__<config hash>/`` holds config.yaml (the resolved
config), train_log.jsonl, model.safetensors, train_state.safetensors and result.json.
``load_trained`` is the one way a config plus a checkpoint become a model again.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from jepa_bench.config import ConfigError, RunConfig
from jepa_bench.data.base import Task
from jepa_bench.record.io import load_record
from jepa_bench.runner.build import build, pick_device
from jepa_bench.train.checkpoint import MODEL_FILE, STATE_FILE, load_model
from jepa_bench.train.loop import LOG_FILE

CONFIG_FILE = "config.yaml"
RESULT_FILE = "result.json"
LOCK_FILE = ".lock"  # held by the process running the config


class RunDirError(ValueError):
    """A folder that is not a (complete) run directory, or whose files cannot be read."""


@dataclass
class LoadedRun:
    """A run rebuilt: config, task, the trained model and its untrained twin (eval mode)."""

    cfg: RunConfig
    task: Task
    model: nn.Module  # the checkpoint's weights, on ``device``
    untrained: nn.Module  # the same architecture and seed, never trained
    step: int  # training step the weights were saved at
    device: torch.device


def load_trained(
    cfg: RunConfig,
    checkpoint: Path,
    device: str = "cpu",
    data_dir: str | None = None,
    base: Path | None = None,
) -> LoadedRun:
    """Build ``cfg``'s task and model and load ``checkpoint`` into the model.

    ``data_dir`` replaces the config's (the task's data are the same wherever they are cached).
    ``base``: the record's folder, searched first for a plug-in model's file (whose code then
    runs: rebuild only records you trust). Raises ``RunDirError`` when the weights do not fit.
    """
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir)
    dev = pick_device(device)
    built = build(cfg, base)  # seeds before init: this model is the untrained twin
    model = copy.deepcopy(built.model)
    try:
        step = load_model(model, checkpoint)
    except FileNotFoundError:
        raise RunDirError(f"{checkpoint}: no such checkpoint") from None
    except Exception as e:  # a corrupt file or a different architecture
        raise RunDirError(f"{checkpoint}: cannot load these weights into the model ({e})") from e
    return LoadedRun(cfg, built.task, model.to(dev).eval(), built.model.to(dev).eval(), step, dev)


@dataclass(frozen=True)
class RunDir:
    """One run directory. Reading methods raise ``RunDirError`` naming the file and the problem."""

    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def result_file(self) -> Path:
        return self.path / RESULT_FILE

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory for one process; a second run of the same config fails at once.

        Two processes training one config would overwrite each other's checkpoints and log.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                raise RunDirError(
                    f"{self.path} is in use by another run of the same config "
                    f"(process {f.read().strip() or '?'}); wait for it or use another --out"
                ) from None
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def settle_failed(self) -> str:
        """After a run failed at run time: keep the directory when it holds a checkpoint (it can
        be continued with ``--resume``), else remove what the run wrote; returns which, as text."""
        kept = [n for n in (MODEL_FILE, STATE_FILE, RESULT_FILE) if (self.path / n).exists()]
        if kept:
            return f"kept {self.path} (it holds {', '.join(kept)}; --resume continues it)"
        for name in (CONFIG_FILE, LOG_FILE, LOCK_FILE):
            (self.path / name).unlink(missing_ok=True)
        try:
            self.path.rmdir()
        except OSError:  # files of someone else's: leave them
            return f"removed the config and log from {self.path} (it held no checkpoint)"
        return f"removed {self.path} (it held no checkpoint)"

    def config(self) -> RunConfig:
        """The resolved config the run was made with."""
        if not self.config_file.is_file():
            raise RunDirError(f"{self.path} is not a run directory: it has no {CONFIG_FILE}")
        try:
            return RunConfig.from_dict(yaml.safe_load(self.config_file.read_text()))
        except (yaml.YAMLError, ConfigError, TypeError) as e:
            raise RunDirError(f"{self.config_file}: not a valid run configuration ({e})") from None

    def record(self) -> dict[str, Any] | None:
        """The result record (None while the run has none)."""
        return load_record(self.result_file) if self.result_file.is_file() else None

    def log(self) -> list[dict[str, Any]]:
        """The training log's rows; a corrupt line is an error naming the line."""
        if not self.log_file.exists():
            return []
        rows = []
        for i, line in enumerate(self.log_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise RunDirError(f"{self.log_file}: line {i} is not valid JSON ({e})") from None
            if not isinstance(row, dict):
                raise RunDirError(f"{self.log_file}: line {i} is not a JSON object")
            rows.append(row)
        return rows

    def load(self, device: str = "cpu", data_dir: str | None = None) -> LoadedRun:
        """The run's config, task and model with its final weights."""
        cfg = self.config()
        if not self.model_file.is_file():
            raise RunDirError(f"{self.path}: no {MODEL_FILE}; was the run interrupted?")
        return load_trained(cfg, self.model_file, device, data_dir, base=self.path)
