"""No regulariser: the objective is the plain prediction MSE, the collapse-prone baseline."""

from __future__ import annotations

from torch import Tensor

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.base import Regularizer


class NoRegularizer(Regularizer):
    """No regulariser: plain prediction MSE only (the collapse-prone baseline)."""

    name = "none"

    def __init__(self) -> None:
        super().__init__()

    def terms(self, lat: TrainLatents, progress: float) -> dict[str, Tensor]:
        return {}
