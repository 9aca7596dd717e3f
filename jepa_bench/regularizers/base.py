"""The regulariser interface and the objective that combines it with the prediction loss.

A regulariser turns a ``TrainLatents`` into a dict of named, already-weighted loss terms. Weights
may follow a stage-wise schedule over training progress (0 at the first step, 1 at the last).
A regulariser may also transform the model before training (``bias_free`` does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from jepa_bench.models.protocol import TrainLatents


@dataclass
class Schedule:
    """A piecewise-constant weight: ``stages`` are (start_progress, value), sorted by start.

    ``Schedule.constant(25.0)`` is one stage; ``Schedule([(0, 25), (0.8, 50)])`` raises the weight
    for the last 20% of training (seed 004 did this with the invariance weight).
    """

    stages: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def constant(cls, value: float) -> Schedule:
        return cls([(0.0, float(value))])

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a Schedule needs at least one (start, value) stage")
        if min(start for start, _ in self.stages) != 0.0:
            raise ValueError(
                f"a schedule must say its weight from the start: stages {self.stages} have no "
                "stage at 0 (e.g. 25@0,50@0.8)"
            )
        for start, value in self.stages:
            if not 0.0 <= start <= 1.0:
                raise ValueError(f"schedule start {start!r} is outside [0, 1] (training progress)")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"schedule weight {value!r} must be finite and >= 0")

    @classmethod
    def parse(cls, value: float | str | Sequence[Sequence[float]] | Schedule) -> Schedule:
        """Accept a number, ``"25@0,50@0.8"`` (value@start), a list of pairs, or a Schedule."""
        if isinstance(value, Schedule):
            return value
        if isinstance(value, bool):
            raise ValueError(f"a weight must be a number or a schedule, not {value!r}")
        if isinstance(value, (int, float)):
            return cls.constant(float(value))
        if isinstance(value, str):
            stages = []
            for part in value.split(","):
                v, _, start = part.partition("@")
                try:
                    stages.append((float(start or 0.0), float(v)))
                except ValueError:
                    raise ValueError(
                        f"bad schedule stage {part!r} in {value!r}: expected value@start, "
                        "e.g. 25@0,50@0.8"
                    ) from None
            return cls(sorted(stages))
        return cls(sorted((float(s), float(v)) for s, v in value))

    def __call__(self, progress: float) -> float:
        out = self.stages[0][1]
        for start, value in self.stages:
            if progress >= start:
                out = value
        return out

    def to_config(self) -> float | list[list[float]]:
        if len(self.stages) == 1 and self.stages[0][0] == 0.0:
            return self.stages[0][1]
        return [[s, v] for s, v in self.stages]


class Regularizer(nn.Module):
    """Base class. Subclasses set ``name`` and implement ``terms``."""

    name: str = "base"
    #: True when the regulariser's own terms already include the prediction (invariance) loss,
    #: so the objective does not add a plain MSE term on top (VICReg).
    provides_prediction: bool = False

    def terms(self, lat: TrainLatents, progress: float) -> dict[str, Tensor]:
        """Named, weighted loss terms for one batch."""
        return {}

    def transform_model(self, model: nn.Module) -> nn.Module:
        """Change the model before training (default: unchanged)."""
        return model

    def config(self) -> dict[str, object]:
        """The resolved settings, for the run's config dump."""
        return {}


def prediction_mse(lat: TrainLatents) -> Tensor:
    """Mean squared error between predicted and target latents (same shape), in float32."""
    if lat.pred.shape != lat.target.shape:
        raise ValueError(
            f"pred {tuple(lat.pred.shape)} and target {tuple(lat.target.shape)} differ in shape"
        )
    dtype = torch.promote_types(lat.pred.dtype, torch.float32)  # bf16/fp16 -> fp32
    return torch.mean((lat.pred.to(dtype) - lat.target.to(dtype)) ** 2)


class Objective(nn.Module):
    """Prediction loss plus every regulariser's terms; returns a dict with the total as "loss"."""

    def __init__(self, regularizers: Sequence[Regularizer], prediction_weight: float = 1.0) -> None:
        super().__init__()
        self.regularizers = nn.ModuleList(regularizers)
        self.prediction_weight = prediction_weight

    def forward(self, lat: TrainLatents, progress: float = 0.0) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if not any(r.provides_prediction for r in self.regularizers):
            out["prediction"] = self.prediction_weight * prediction_mse(lat)
        for reg in self.regularizers:
            assert isinstance(reg, Regularizer)  # __init__ holds only Regularizers
            for key, value in reg.terms(lat, progress).items():
                out[f"{reg.name}/{key}"] = value
        out["loss"] = torch.stack(list(out.values())).sum() if out else lat.pred.sum() * 0.0
        return out

    def transform_model(self, model: nn.Module) -> nn.Module:
        for reg in self.regularizers:
            assert isinstance(reg, Regularizer)  # __init__ holds only Regularizers
            model = reg.transform_model(model)
        return model
