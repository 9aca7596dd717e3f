"""Build what a resolved config describes: the task, the seeded model and the objective."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from jepa_bench.config import ConfigError, EvalConfig, RunConfig
from jepa_bench.data.base import Task, TaskDataError
from jepa_bench.models.check import check_model
from jepa_bench.models.plugins import model_slug, resolve_model
from jepa_bench.registry import TASKS, UnknownNameError
from jepa_bench.regularizers.base import Objective
from jepa_bench.regularizers.compose import build_objective


@dataclass
class Built:
    """A config made concrete: its task, its model (regulariser transforms applied), its objective.

    The model is freshly initialised from the run seed: before training it is the untrained twin.
    """

    task: Task
    model: nn.Module
    objective: Objective


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is a ``ConfigError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError("device", f"{name!r} is not a device ({e})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", f"{name!r} was asked for but torch sees no CUDA device")
    return device


def run_id_for(cfg: RunConfig) -> str:
    """The run directory's name: readable parts, then the config hash (the record's too)."""
    reg = re.sub(r"[^A-Za-z0-9_.+-]", "-", cfg.reg)
    return f"{cfg.task}__{model_slug(cfg.model)}__{reg}__s{cfg.seed}__{cfg.budget}__{cfg.hash()}"


def build_task(cfg: RunConfig) -> Task:
    """The task of ``cfg`` (cheap: tasks load or generate their data on first use)."""
    try:
        factory = TASKS.get(cfg.task)
    except UnknownNameError as e:
        raise ConfigError("task", str(e)) from None
    try:
        return factory(budget=cfg.budget, seed=cfg.seed, data_dir=cfg.data_dir, **cfg.task_kwargs)
    except TaskDataError:
        raise  # data that could not be made is not a bad setting
    except Exception as e:  # a factory's own error, whatever its type, names the task
        raise ConfigError(
            "task_kwargs", f"task {cfg.task!r} could not be built: {type(e).__name__}: {e}"
        ) from None


def build_model(cfg: RunConfig, task: Task, base: Path | None = None) -> nn.Module:
    """The model of ``cfg``, initialised from the run seed and checked against the task.

    ``base``: the folder of the record being rebuilt, searched first for a plug-in model file;
    a plug-in whose source is not the recorded one (``model_sha256``) is refused unimported.
    """
    try:
        factory = resolve_model(cfg.model, base, cfg.model_sha256)
    except (UnknownNameError, ValueError) as e:
        raise ConfigError("model", str(e)) from None
    seed_everything(cfg.seed)
    try:
        model = factory(task.spec, **cfg.model_kwargs)
    except Exception as e:  # a factory's own error, whatever its type, names the model
        raise ConfigError(
            "model_kwargs", f"model {cfg.model!r} could not be built: {type(e).__name__}: {e}"
        ) from None
    check_model(model, task.spec, name=cfg.model)  # a clear error before any training
    return model


def build(cfg: RunConfig, base: Path | None = None) -> Built:
    """Task, seeded model and objective; every setting that needs the task is checked here.

    ``base``: the folder of a record being rebuilt (see ``build_model``).
    """
    task = build_task(cfg)
    window = cfg.train.window
    if window > task.spec.seq_len:
        raise ConfigError(
            "train.window",
            f"{window} frames is longer than task {cfg.task!r}'s windows ({task.spec.seq_len})",
        )
    model = build_model(cfg, task, base)
    objective = build_objective(cfg.reg, seed=cfg.seed)
    return Built(task, objective.transform_model(model), objective)


def twin_eval_config(ev: EvalConfig) -> EvalConfig:
    """How the untrained twin is evaluated: as the model, but without planning (planning is
    scored against its own random and oracle baselines, and costs minutes on CPU)."""
    return replace(ev, planning=False)
