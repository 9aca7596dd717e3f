"""Collapse regularisers, registered by name: ``vicreg``, ``sigreg``, ``bias_free``, ``none``."""

from jepa_bench.regularizers import bias_free, none, sigreg, vicreg  # noqa: F401
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
