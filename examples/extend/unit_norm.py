"""A regulariser in one file: keep every embedding's squared norm near its dimension.

Registered with one line (see docs/extending.md):
    REGULARIZERS.add("unit_norm", "examples.extend.unit_norm:UnitNorm")
"""

from __future__ import annotations

from torch import Tensor

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.base import Regularizer, Schedule


class UnitNorm(Regularizer):
    """weight * mean over frames of (|z|^2 / D - 1)^2: a collapsed (zero) latent costs 1."""

    name = "unit_norm"

    def __init__(self, weight: float | str = 1.0) -> None:
        super().__init__()
        self.weight = Schedule.parse(weight)

    def terms(self, lat: TrainLatents, progress: float) -> dict[str, Tensor]:
        z = lat.emb.float()  # (B, T, D)
        norm = z.pow(2).mean(-1)  # (B, T): |z|^2 / D
        return {"norm": self.weight(progress) * (norm - 1.0).pow(2).mean()}

    def config(self) -> dict[str, object]:
        return {"weight": self.weight.to_config()}
