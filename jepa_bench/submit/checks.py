"""Checks of a record against what it claims, shared by ``submit`` and ``verify``.

- ``metric_name_problems``: every metric name is declared (``jepa_bench.record.metrics``) with
  its declared direction: a made-up metric, wall-clock or not, is refused.
- ``param_problems``: the parameter counts are those of the model rebuilt from the config.
- ``data_hash_problems``: the record carries the task data's hash (and, given the data's own
  hash, the two agree).
- ``planning_cap_problems``: a run whose planning stopped at its wall-clock cap
  (``eval.plan.max_minutes``) has no ``plan/`` metrics; such a record is refused with a message,
  since verify (which plans without the cap, so that a slower machine reproduces the numbers)
  would produce planning metrics the record cannot match.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from jepa_bench.data.base import Task, planning_suite
from jepa_bench.models.params import param_counts
from jepa_bench.record.metrics import metric_problems
from jepa_bench.record.verification import DATA_HASH_KEY, data_sha256_of


def metric_name_problems(record: dict[str, Any]) -> list[str]:
    """Undeclared metric names and wrong directions (empty when every name is declared)."""
    return metric_problems(record)


def param_problems(record: dict[str, Any], model: nn.Module) -> list[str]:
    """The recorded parameter counts against ``model``'s (the model rebuilt from the config)."""
    actual = param_counts(model)
    claimed = record["model"]["params"]
    if claimed == actual:
        return []
    diff = [
        f"{part}: {claimed.get(part)!r} recorded, {actual.get(part)!r} rebuilt"
        for part in sorted(set(claimed) | set(actual))
        if claimed.get(part) != actual.get(part)
    ]
    return [
        "model.params: the parameter counts are not those of the model rebuilt from the config ("
        + "; ".join(diff)
        + ")"
    ]


def data_hash_problems(record: dict[str, Any], actual: str | None = None) -> list[str]:
    """A record without the task data's hash, or (``actual`` given) with another one."""
    claimed = data_sha256_of(record)
    if claimed is None:
        return [
            f"task.details.{DATA_HASH_KEY}: missing; the record does not say which data it was "
            "made on (made by an older jepa-bench: re-run it, or re-score it with "
            "`jepa-bench rescore`)"
        ]
    if actual is not None and actual != claimed:
        return [
            f"task.details.{DATA_HASH_KEY}: the data evaluated here hash to {actual}, the record "
            f"says {claimed}: these are not the data the run was made on (another or planted "
            "cache; pass --data-dir to the right data)"
        ]
    return []


def planning_capped(record: dict[str, Any], task: Task | None = None) -> bool:
    """Whether the run planned (or should have) but its record has no ``plan/`` metrics."""
    if any(name.startswith("plan/") for name in record["metrics"]):
        return False
    trained = ((record.get("details") or {}).get("trained")) or {}
    if isinstance(trained, dict) and "planning" in trained:
        return True  # planning started and returned no metrics: it stopped at its cap
    planning_on = bool(((record.get("config") or {}).get("eval") or {}).get("planning"))
    return planning_on and task is not None and planning_suite(task) is not None


def planning_cap_problems(record: dict[str, Any], task: Task | None = None) -> list[str]:
    """The refusal of a record whose planning stopped at its time cap (empty otherwise)."""
    if not planning_capped(record, task):
        return []
    plan = ((record.get("config") or {}).get("eval") or {}).get("plan") or {}
    cap = plan.get("max_minutes")
    return [
        f"planning: the run's planning stopped at its time cap (eval.plan.max_minutes = {cap}), "
        "so the record has no plan/ metrics; verify plans without the cap and would find metrics "
        "the record lacks, so it can never be verified. Re-run with a larger cap (or null) in a "
        "--config file, on a faster machine, or with eval.planning false"
    ]
