"""Whether a stored record counts as verified, read from its ``verification`` block.

A leaderboard record counts as verified (``is_verified``) only when its ``verified`` flag is set
*and* its ``verification`` block (written by ``jepa-bench verify``) agrees with it: every check
passed, and the block's recorded values, checkpoint hash, config hash, parameter counts (counted
from the rebuilt model) and task data hash (recomputed from the data verify evaluated on) are the
record's own. Editing a metric, a parameter count or the data hash of a verified record therefore
un-verifies its row; so does a block written before verify checked them. No torch here: the
tables use it.
"""

from __future__ import annotations

import math
from typing import Any

from jepa_bench.record.metrics import is_compared

DATA_HASH_KEY = "data_sha256"  # in a record's task.details (``jepa_bench.data.hashing``)
UNTRAINED_PREFIX = "untrained:"  # check names of the untrained twin's metrics


def as_float(v: Any) -> float:
    return math.nan if v is None else float(v)


def is_timing(name: str) -> bool:
    """Declared wall-clock metrics (``plan/time_per_call_ms``): they depend on the machine's load
    and are reported but never compared. A name without a declaration is never one of them (it
    must be compared, so it cannot pass unchecked)."""
    return not is_compared(name)


def data_sha256_of(record: dict[str, Any]) -> str | None:
    """The task data's hash stored in a record (``task.details.data_sha256``), if any."""
    details = (record.get("task") or {}).get("details") or {}
    value = details.get(DATA_HASH_KEY) if isinstance(details, dict) else None
    return value if isinstance(value, str) else None


def _same(a: Any, b: Any) -> bool:
    fa, fb = as_float(a), as_float(b)
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
    params = (record.get("model") or {}).get("params")
    if block.get("params") != params:  # counted from the rebuilt model by verify
        return False
    if block.get(DATA_HASH_KEY) is None or block.get(DATA_HASH_KEY) != data_sha256_of(record):
        return False
    checks = block.get("metrics")
    metrics = record.get("metrics") or {}
    checked = {name for name in metrics if is_compared(name)}  # wall-clock ones are not compared
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
