"""Collapse regularisers (``vicreg``, ``sigreg``, ``bias_free``, ``none``), the objective and the
``--reg`` composition parser. The regularisers are registered in ``jepa_bench.registry``."""

from jepa_bench.regularizers.base import Objective, Regularizer, Schedule, prediction_mse
from jepa_bench.regularizers.compose import (
    build_objective,
    build_regularizers,
    describe_reg,
    parse_reg,
)

__all__ = [
    "Objective",
    "Regularizer",
    "Schedule",
    "build_objective",
    "build_regularizers",
    "describe_reg",
    "parse_reg",
    "prediction_mse",
]
