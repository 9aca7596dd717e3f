"""Recorded vs recomputed metrics: one ``MetricCheck`` per metric.

A value passes when ``|recomputed - recorded| <= atol + rtol * |recorded|`` (NaN passes only
against NaN). What makes a stored record count as verified is ``record.verification``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jepa_bench.record.metrics import is_compared, spec_of
from jepa_bench.record.verification import as_float

# Same machine, same software: evaluation is deterministic up to float reduction order.
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-4


@dataclass
class MetricCheck:
    """One metric: recorded and recomputed value (NaN when absent or not computed), pass or fail."""

    name: str
    recorded: float | None  # None: the record lacks this metric
    recomputed: float | None  # None: the evaluation did not produce it
    passed: bool

    @property
    def abs_diff(self) -> float:
        if self.recorded is None or self.recomputed is None:
            return math.nan
        return abs(self.recomputed - self.recorded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "recomputed": self.recomputed,
            "abs_diff": self.abs_diff,
            "pass": self.passed,
        }


def values_match(recorded: float, recomputed: float, rtol: float, atol: float) -> bool:
    """Whether ``recomputed`` is within ``atol + rtol * |recorded|`` of ``recorded``."""
    if math.isnan(recorded) or math.isnan(recomputed):
        return math.isnan(recorded) and math.isnan(recomputed)
    return abs(recomputed - recorded) <= atol + rtol * abs(recorded)


def _optional(name: str) -> bool:
    spec = spec_of(name)
    return spec is not None and spec.optional


def compare_metrics(
    recorded: dict[str, Any] | None,
    recomputed: dict[str, float],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    prefix: str = "",
) -> list[MetricCheck]:
    """One check per metric name in either; a metric missing on one side fails.

    ``recorded`` holds record entries ``{value, higher_is_better}``; ``recomputed`` plain values.
    Declared wall-clock metrics are left out: they measure the machine, not the model. A metric
    declared ``optional`` (added to the evaluator after records of its protocol existed) is left
    out when the record lacks it; every other name, declared or not, is compared.
    """
    recorded = recorded or {}
    names = list(recorded) + [n for n in recomputed if n not in recorded]
    names = [n for n in names if is_compared(n) and (n in recorded or not _optional(n))]
    out = []
    for name in names:
        rec = as_float(recorded[name]["value"]) if name in recorded else None
        new = float(recomputed[name]) if name in recomputed else None
        ok = rec is not None and new is not None and values_match(rec, new, rtol, atol)
        out.append(MetricCheck(prefix + name, rec, new, ok))
    return out
