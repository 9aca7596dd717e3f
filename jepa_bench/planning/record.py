"""Planning metrics into an existing result record (``jepa-bench plan --write``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_bench.record.io import load_record, write_record


def _plan_settings(details: Any) -> dict[str, Any] | None:
    """Settings that determine planning metrics (all but the time limit), or None."""
    if not isinstance(details, dict) or not isinstance(details.get("settings"), dict):
        return None
    return {k: v for k, v in details["settings"].items() if k != "max_minutes"}


def _with_plan(metrics: dict[str, Any] | None, res: dict[str, Any] | None) -> dict[str, Any]:
    """``metrics`` without its plan/ keys, plus those of ``res``."""
    out = {k: v for k, v in (metrics or {}).items() if not k.startswith("plan/")}
    if res is None:
        return out
    for key, value in res.get("metrics", {}).items():
        out[key] = {"value": value, "higher_is_better": res["higher_is_better"][key]}
    return out


def write_planning(record_path: Path, trained: dict[str, Any], untrained: dict | None) -> None:
    """Put planning metrics into a run's result record (other metrics untouched), atomically.

    Earlier plan/ keys are replaced. Untrained plan/ keys are recomputed when ``untrained`` is
    given, kept when they were made with the same settings, and dropped otherwise.
    """
    record = load_record(record_path)
    details = dict(record.get("details") or {})
    record["metrics"] = _with_plan(record["metrics"], trained)
    previous = details.get("planning") or {}
    old = previous.get("untrained") or (details.get("untrained") or {}).get("planning")
    same = old is not None and _plan_settings(old) == _plan_settings(trained["details"])
    if untrained is None and same:
        untrained = {"details": old}  # the existing untrained plan/ keys match: keep them
    elif record.get("untrained_metrics") is not None or untrained is not None:
        record["untrained_metrics"] = _with_plan(record.get("untrained_metrics"), untrained)
    details["planning"] = {
        "trained": trained["details"],
        "untrained": (untrained or {}).get("details"),
    }
    record["details"] = details
    write_record(record_path, record)
