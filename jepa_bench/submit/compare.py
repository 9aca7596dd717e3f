"""Recorded vs recomputed metrics, and the ``verification`` block of a leaderboard record.

A value passes when ``|recomputed - recorded| <= atol + rtol * |recorded|`` (NaN passes only
against NaN). A leaderboard record counts as verified (``is_verified``) only when its ``verified``
flag is set *and* its ``verification`` block agrees with it: every check passed, and the block's
recorded values, checkpoint hash and config hash are the record's own. Editing a metric of a
verified record therefore un-verifies its row. This module imports no torch (the tables use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Same machine, same software: evaluation is deterministic up to float reduction order.
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-4
UNTRAINED_PREFIX = "untrained:"  # check names of the untrained twin's metrics


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


def _as_float(v: Any) -> float:
    return math.nan if v is None else float(v)


def values_match(recorded: float, recomputed: float, rtol: float, atol: float) -> bool:
    """Whether ``recomputed`` is within ``atol + rtol * |recorded|`` of ``recorded``."""
    if math.isnan(recorded) or math.isnan(recomputed):
        return math.isnan(recorded) and math.isnan(recomputed)
    return abs(recomputed - recorded) <= atol + rtol * abs(recorded)


def is_timing(name: str) -> bool:
    """Wall-clock metrics (``..._ms``, ``..._s``, ``...time...``) depend on the machine's load and
    are reported but never compared."""
    leaf = name.rsplit("/", 1)[-1]
    return leaf.endswith(("_ms", "_s")) or "time" in leaf


def compare_metrics(
    recorded: dict[str, Any] | None,
    recomputed: dict[str, float],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    prefix: str = "",
) -> list[MetricCheck]:
    """One check per metric name in either; a metric missing on one side fails.

    ``recorded`` holds record entries ``{value, higher_is_better}``; ``recomputed`` plain values.
    Timing metrics (``is_timing``) are left out: they measure the machine, not the model.
    """
    recorded = recorded or {}
    names = list(recorded) + [n for n in recomputed if n not in recorded]
    names = [n for n in names if not is_timing(n)]
    out = []
    for name in names:
        rec = _as_float(recorded[name]["value"]) if name in recorded else None
        new = float(recomputed[name]) if name in recomputed else None
        ok = rec is not None and new is not None and values_match(rec, new, rtol, atol)
        out.append(MetricCheck(prefix + name, rec, new, ok))
    return out


def _same(a: Any, b: Any) -> bool:
    fa, fb = _as_float(a), _as_float(b)
    return (math.isnan(fa) and math.isnan(fb)) or fa == fb


def is_verified(record: dict[str, Any]) -> bool:
    """True only for a record whose ``verified`` flag is backed by a matching passed check."""
    block = record.get("verification")
    if record.get("verified") is not True or not isinstance(block, dict):
        return False
    if block.get("verified") is not True or block.get("config_hash") != record.get("config_hash"):
        return False
    checkpoint = record.get("checkpoint") or {}
    if block.get("checkpoint_sha256") != checkpoint.get("sha256"):
        return False
    checks = block.get("metrics")
    metrics = record.get("metrics") or {}
    checked = {name for name in metrics if not is_timing(name)}  # wall-clock ones are not compared
    if not isinstance(checks, dict) or not metrics or checked - set(checks):
        return False
    untrained = record.get("untrained_metrics") or {}
    for name, check in checks.items():
        if not isinstance(check, dict) or check.get("pass") is not True:
            return False
        if name.startswith(UNTRAINED_PREFIX):
            entry = untrained.get(name[len(UNTRAINED_PREFIX) :])
        else:
            entry = metrics.get(name)
        if not isinstance(entry, dict) or not _same(entry.get("value"), check.get("recorded")):
            return False
    return True


def strip_verification(record: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy without the verification block and with ``verified`` false."""
    out = {k: v for k, v in record.items() if k != "verification"}
    out["verified"] = False
    return out
