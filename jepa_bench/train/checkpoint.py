"""Checkpoints in safetensors (never pickle): model weights, and a separate training state.

``model.safetensors`` holds the weights. ``train_state.safetensors`` holds the optimiser tensors
(flattened as ``opt/<param index>/<name>``), RNG states, and JSON metadata (step, scheduler,
optimiser hyper-parameters) in the safetensors header. Files are written to a temporary name and
renamed, so an interrupted save never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from jepa_bench.record.io import move_into_place

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: missing, unreadable, or out of step."""


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    # a temporary name of this writer's own, so two processes never share one
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata)
        move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: nn.Module, run_dir: Path, step: int) -> Path:
    """Write the model's state dict (parameters and buffers) to ``run_dir/model.safetensors``."""
    path = Path(run_dir) / MODEL_FILE
    state = {k: v for k, v in model.state_dict().items()}
    # shared tensors would make safetensors refuse to save; clone to break the aliasing
    seen: dict[int, str] = {}
    for k, v in list(state.items()):
        ptr = v.data_ptr()
        if ptr in seen and v.numel() > 0:
            state[k] = v.clone()
        seen[ptr] = k
    _atomic_save(state, path, {"step": str(step)})
    return path


def saved_step(path: Path) -> int:
    """The training step a checkpoint file was saved at (from its metadata)."""
    with safe_open(str(path), framework="pt") as f:
        return int((f.metadata() or {}).get("step", "0"))


def load_model(model: nn.Module, path: Path) -> int:
    """Load weights saved by ``save_model``; returns the step they were saved at."""
    step = saved_step(path)
    model.load_state_dict(load_file(str(path)))
    return step


def resume_step(run_dir: Path) -> int:
    """The step a run directory can resume from; ``CheckpointError`` names what is wrong.

    Both files must exist, open, and come from the same step: weights of one step with the
    optimiser state of another would resume silently into a different run.
    """
    files = {name: Path(run_dir) / name for name in (MODEL_FILE, STATE_FILE)}
    steps = {}
    for name, path in files.items():
        if not path.is_file():
            raise CheckpointError(f"cannot resume: {path} is missing")
        try:
            steps[name] = saved_step(path)
        except Exception as e:  # a truncated or foreign file
            raise CheckpointError(
                f"cannot resume: {path} is not a readable checkpoint ({e})"
            ) from None
    if steps[MODEL_FILE] != steps[STATE_FILE]:
        raise CheckpointError(
            f"cannot resume: {files[MODEL_FILE]} is from step {steps[MODEL_FILE]} but "
            f"{files[STATE_FILE]} from step {steps[STATE_FILE]}; they must be saved together"
        )
    return steps[STATE_FILE]


def save_train_state(
    run_dir: Path,
    step: int,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    np_rng: np.random.Generator,
    extra: dict[str, Any] | None = None,
    objective: nn.Module | None = None,
) -> Path:
    """Optimiser tensors + RNG + step (+ the objective's state, e.g. SIGReg's generator)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {"rng/torch": torch.get_rng_state()}
    if objective is not None:
        for key, value in objective.state_dict().items():
            if torch.is_tensor(value):
                tensors[f"objective/{key}"] = value
            elif isinstance(value, dict):  # extra state: one level of named tensors
                for sub, v in value.items():
                    tensors[f"objective_extra/{key}/{sub}"] = v
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"opt/{pid}/{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    meta = {
        "step": str(step),
        "param_groups": json.dumps(sd["param_groups"]),
        "opt_scalars": json.dumps(scalars),
        "scheduler": json.dumps(sched.state_dict(), default=str),
        "np_rng": json.dumps(np_rng.bit_generator.state),
        "extra": json.dumps(extra or {}),
    }
    path = Path(run_dir) / STATE_FILE
    _atomic_save(tensors, path, meta)
    return path


def load_train_state(
    run_dir: Path,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    np_rng: np.random.Generator,
    objective: nn.Module | None = None,
) -> tuple[int, dict[str, Any]]:
    """Restore what ``save_train_state`` wrote; returns (step, extra)."""
    path = Path(run_dir) / STATE_FILE
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    tensors = load_file(str(path))
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("opt/"):
            _, pid, name = key.split("/", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, st in json.loads(meta["opt_scalars"]).items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    sched.load_state_dict(json.loads(meta["scheduler"]))
    np_rng.bit_generator.state = json.loads(meta["np_rng"])
    torch.set_rng_state(tensors["rng/torch"])
    if objective is not None:
        obj_state: dict[str, Any] = {}
        for key, value in tensors.items():
            if key.startswith("objective/"):
                obj_state[key[len("objective/") :]] = value
            elif key.startswith("objective_extra/"):
                name, sub = key[len("objective_extra/") :].rsplit("/", 1)
                obj_state.setdefault(name, {})[sub] = value
        objective.load_state_dict(obj_state)
    return int(meta["step"]), json.loads(meta.get("extra", "{}"))
