"""Checkpoints in safetensors (never pickle): model weights, and a separate training state.

``model.safetensors`` holds the weights. ``train_state.safetensors`` holds the optimiser tensors
(flattened as ``opt/<param index>/<name>``), RNG states, and JSON metadata (step, scheduler,
optimiser hyper-parameters) in the safetensors header. Files are written to a temporary name and
renamed, so an interrupted save never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.safetensors"


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata)
    os.replace(tmp, path)


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


def load_model(model: nn.Module, path: Path) -> int:
    """Load weights saved by ``save_model``; returns the step they were saved at."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        step = int((f.metadata() or {}).get("step", "0"))
    model.load_state_dict(load_file(str(path)))
    return step


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    from safetensors import safe_open

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
