"""Worker for the distributed tests: trains a smoke model for a few steps in one rank."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from jepa_bench.config import TrainConfig as TrainSettings
from jepa_bench.registry import MODELS
from jepa_bench.regularizers.compose import build_objective
from jepa_bench.train.loop import train
from tests.helpers import ToyTask


def no_dropout(model: nn.Module) -> nn.Module:
    """Dropout draws differ between 1 and 2 processes; switch it off for exact comparisons."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        elif isinstance(getattr(m, "dropout", None), float):  # functional attention dropout
            m.dropout = 0.0
    return model


def train_once(model_name: str, reg: str, run_dir: str, steps: int = 2, batch: int = 8) -> None:
    """Build the same model and objective from seed 0 and train ``steps`` steps.

    SGD, not Adam: Adam turns float noise in gradients that are zero in exact arithmetic (a bias
    right before a BatchNorm) into full-size updates, which would hide real differences.
    """
    task = ToyTask(n=32)
    torch.manual_seed(0)
    model = no_dropout(MODELS.get(model_name)(task.spec))
    objective = build_objective(reg, seed=0)
    model = objective.transform_model(model)
    settings = TrainSettings(
        steps=steps,
        batch_size=batch,
        lr=1e-3,
        weight_decay=0.0,
        grad_clip=100.0,
        optimizer="sgd",
        log_every=1,
    )
    train(
        model,
        objective,
        task.train_set(),
        settings,
        device=torch.device("cpu"),
        seed=0,
        run_dir=run_dir,
        progress=False,
    )


def rank_main(rank: int, world: int, init_file: str, model_name: str, reg: str, run_dir: str):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        train_once(model_name, reg, run_dir)
    finally:
        dist.destroy_process_group()
