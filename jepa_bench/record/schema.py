"""The versioned result record: one JSON object per run (documented in docs/results.md).

In memory a metric value that could not be computed is ``float("nan")``; on disk it is ``null``.
NaN metrics are valid (a diverged model is a result) and listed by ``record_warnings``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from jepa_bench import __version__
from jepa_bench.record.hardware import hardware_info

SCHEMA_VERSION = "1.0"
KNOWN_SCHEMA_VERSIONS: tuple[str, ...] = ("1.0",)
#: The evaluation protocol of a record without an ``eval_protocol`` field (the evaluator's current
#: one is ``jepa_bench.evaluate.EVAL_PROTOCOL``).
LEGACY_EVAL_PROTOCOL = "eval-v1"

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # run ids, task names: used as file names
TIME_KEYS = ("train_s", "eval_s", "total_s", "data_s")
HARDWARE_KEYS = ("cpu", "cores", "gpu", "torch", "python", "platform", "threads")
# Config keys that do not change the result: where outputs go and how often they are written.
UNHASHED_CONFIG_KEYS = ("out", "device", "resume", "data_dir")
UNHASHED_NESTED_KEYS: dict[str, tuple[str, ...]] = {
    "train": ("keep_snapshots", "log_every", "checkpoint_every"),
}


def hash_config(config: Mapping[str, Any]) -> str:
    """Short hash of a run config, ignoring what only affects outputs (paths, device, logs).

    ``RunConfig.hash`` is this function: it names the run directory and is the record's
    ``config_hash``.
    """
    d = {k: v for k, v in config.items() if k not in UNHASHED_CONFIG_KEYS}
    for section, keys in UNHASHED_NESTED_KEYS.items():
        sub = d.get(section)
        if isinstance(sub, Mapping):
            d[section] = {k: v for k, v in sub.items() if k not in keys}
    blob = json.dumps(d, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def make_run_id(model: str, task: str, seed: int, created: datetime | None = None) -> str:
    """``<UTC time>-<task>-<model>-s<seed>-<4 random hex>``, safe as a file name."""
    created = created or datetime.now(timezone.utc)
    clean = [re.sub(r"[^A-Za-z0-9.+-]+", "_", s) for s in (task, model)]
    return f"{created:%Y%m%dT%H%M%S}-{clean[0]}-{clean[1]}-s{seed}-{secrets.token_hex(2)}"


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str_or_none(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _iso_time(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


def _sha256(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None


def _safe_name(v: Any) -> bool:
    return isinstance(v, str) and SAFE_NAME.match(v) is not None


def _relative_path(v: Any) -> bool:
    return isinstance(v, str) and bool(v) and not v.startswith(("/", "\\")) and ":" not in v[:3]


Check = tuple[Callable[[Any], bool], str]  # predicate, what it expects

TOP: dict[str, Check] = {
    "schema_version": (lambda v: isinstance(v, str), "a string"),
    "run_id": (_safe_name, "a file-safe string"),
    "created": (_iso_time, "an ISO 8601 time string"),
    "task": (lambda v: isinstance(v, dict), "an object"),
    "model": (lambda v: isinstance(v, dict), "an object"),
    "regularizer": (lambda v: isinstance(v, dict), "an object"),
    "seed": (_is_int, "an integer"),
    "budget": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "config": (lambda v: isinstance(v, dict), "an object"),
    "config_hash": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "metrics": (lambda v: isinstance(v, dict), "an object"),
    "untrained_metrics": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "times": (lambda v: isinstance(v, dict), "an object"),
    "hardware": (lambda v: isinstance(v, dict), "an object"),
    "git": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "checkpoint": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "jepa_bench_version": (lambda v: isinstance(v, str), "a string"),
    "verified": (lambda v: isinstance(v, bool), "true or false"),
}
OPTIONAL: dict[str, Check] = {
    "notes": (_str_or_none, "a string or null"),
    "details": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "eval_protocol": (_safe_name, "a file-safe string"),
}

NESTED: dict[str, dict[str, Check]] = {
    "task": {
        "name": (_safe_name, "a file-safe string"),
        "version": (_safe_name, "a file-safe string"),
        "details": (lambda v: isinstance(v, dict), "an object"),
    },
    "model": {
        "name": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
        "params": (lambda v: isinstance(v, dict), "an object"),
    },
    "regularizer": {
        "spec": (_str_or_none, "a string or null"),
        "resolved": (lambda v: isinstance(v, dict), "an object"),
    },
    "times": {
        k: (lambda v: _is_num(v) and math.isfinite(v) and v >= 0, "a finite number >= 0")
        for k in TIME_KEYS
    },
    "hardware": {
        "cpu": (_str_or_none, "a string or null"),
        "cores": (lambda v: v is None or _is_int(v), "an integer or null"),
        "gpu": (_str_or_none, "a string or null"),
        "torch": (lambda v: isinstance(v, str), "a string"),
        "python": (lambda v: isinstance(v, str), "a string"),
        "platform": (lambda v: isinstance(v, str), "a string"),
        "threads": (lambda v: v is None or _is_int(v), "an integer or null"),
    },
    "git": {
        "commit": (_str_or_none, "a string or null"),
        "dirty": (lambda v: isinstance(v, bool), "true or false"),
    },
    "checkpoint": {
        "path": (_relative_path, "a path relative to the run directory"),
        "sha256": (_sha256, "64 lowercase hex digits"),
    },
}


def _check_fields(d: dict[str, Any], checks: dict[str, Check], where: str, out: list[str]) -> None:
    for key, (ok, expected) in checks.items():
        if key not in d:
            out.append(f"{where}{key}: missing")
        elif not ok(d[key]):
            out.append(f"{where}{key}: expected {expected}, got {d[key]!r:.60}")


def _check_metrics(metrics: dict[str, Any], where: str, out: list[str]) -> None:
    for name, entry in metrics.items():
        if not isinstance(entry, dict):
            out.append(f"{where}.{name}: expected an object {{value, higher_is_better}}")
            continue
        value = entry.get("value", "<missing>")
        if value == "<missing>":
            out.append(f"{where}.{name}.value: missing")
        elif value is not None and not _is_num(value):
            out.append(f"{where}.{name}.value: expected a number or null, got {value!r:.60}")
        elif value is not None and math.isinf(value):
            out.append(f"{where}.{name}.value: infinite (only finite numbers or NaN are allowed)")
        if not isinstance(entry.get("higher_is_better"), bool):
            out.append(f"{where}.{name}.higher_is_better: expected true or false")


def validate_record(d: Any) -> list[str]:
    """Every problem found in a record (empty when valid). NaN metric values are not problems."""
    if not isinstance(d, dict):
        return [f"a record must be a JSON object, got {type(d).__name__}"]
    version = d.get("schema_version")
    if "schema_version" in d and version not in KNOWN_SCHEMA_VERSIONS:
        return [f"schema_version: unknown version {version!r} (known: {KNOWN_SCHEMA_VERSIONS})"]
    out: list[str] = []
    _check_fields(d, TOP, "", out)
    for key, (ok, expected) in OPTIONAL.items():
        if key in d and not ok(d[key]):
            out.append(f"{key}: expected {expected}, got {d[key]!r:.60}")
    for part, checks in NESTED.items():
        if isinstance(d.get(part), dict):
            _check_fields(d[part], checks, f"{part}.", out)
    params = d.get("model", {}).get("params") if isinstance(d.get("model"), dict) else None
    if isinstance(params, dict):
        if "total" not in params:
            out.append("model.params.total: missing")
        for name, count in params.items():
            if not _is_int(count) or count < 0:
                out.append(f"model.params.{name}: expected an integer >= 0, got {count!r:.60}")
    for part in ("metrics", "untrained_metrics"):
        if isinstance(d.get(part), dict):
            _check_metrics(d[part], part, out)
    task_details = d["task"].get("details") if isinstance(d.get("task"), dict) else None
    if isinstance(task_details, dict) and "data_sha256" in task_details:
        if not _sha256(task_details["data_sha256"]):
            out.append("task.details.data_sha256: expected 64 lowercase hex digits")
    return out


def eval_protocol_of(record: Mapping[str, Any]) -> str:
    """The evaluation protocol a record was scored under (``LEGACY_EVAL_PROTOCOL`` when unnamed)."""
    return str(record.get("eval_protocol") or LEGACY_EVAL_PROTOCOL)


def _nan_names(metrics: Any) -> list[str]:
    if not isinstance(metrics, dict):
        return []
    return [
        name
        for name, e in metrics.items()
        if isinstance(e, dict)
        and (e.get("value") is None or (_is_num(e["value"]) and math.isnan(e["value"])))
    ]


def record_warnings(d: dict[str, Any]) -> list[str]:
    """Allowed but notable: metrics without a value (NaN) in a valid record."""
    out = []
    for part in ("metrics", "untrained_metrics"):
        names = _nan_names(d.get(part))
        if names:
            out.append(f"{part}: no finite value (NaN) for {', '.join(names)}")
    return out


def metric_entries(
    metrics: Mapping[str, Any],
    higher_is_better: Mapping[str, bool] | None = None,
    where: str = "metrics",
) -> dict[str, dict[str, Any]]:
    """``{name: {"value", "higher_is_better"}}`` from values plus directions, or entries as-is.

    Each item of ``metrics`` is a number (its direction then comes from ``higher_is_better``) or
    already an entry ``{"value", "higher_is_better"}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, v in metrics.items():
        if isinstance(v, Mapping):
            if "value" not in v or "higher_is_better" not in v:
                raise ValueError(f"{where}.{name}: an entry needs 'value' and 'higher_is_better'")
            value, hib = v["value"], v["higher_is_better"]
        else:
            if higher_is_better is None or name not in higher_is_better:
                raise ValueError(f"{where}.{name}: no higher_is_better given")
            value, hib = v, higher_is_better[name]
        out[name] = {"value": None if value is None else float(value), "higher_is_better": hib}
    return out


def build_record(
    *,
    task: Mapping[str, Any],
    model: Mapping[str, Any],
    regularizer: Mapping[str, Any],
    seed: int,
    budget: str,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    times: Mapping[str, float],
    higher_is_better: Mapping[str, bool] | None = None,
    untrained_metrics: Mapping[str, Any] | None = None,
    hardware: Mapping[str, Any] | None = None,
    git: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    notes: str | None = None,
    run_id: str | None = None,
    created: str | None = None,
    config_hash: str | None = None,
    eval_protocol: str | None = None,
) -> dict[str, Any]:
    """Assemble and validate a record; raises ``ValueError`` listing every problem.

    ``task`` = {name, version, details}; ``model`` = {name, params}; ``regularizer`` = {spec (the
    --reg string), resolved (its resolved settings)}. ``metrics`` / ``untrained_metrics`` map
    names to values (directions from ``higher_is_better``) or to ready ``{value,
    higher_is_better}`` entries. ``details``: optional JSON-able evaluation details.
    ``hardware`` defaults to this machine's; ``config_hash`` to ``hash_config(config)``.
    ``eval_protocol``: the evaluator's protocol version (``jepa_bench.evaluate.EVAL_PROTOCOL``);
    left out, the record reads as ``LEGACY_EVAL_PROTOCOL``.
    """

    now = datetime.now(timezone.utc).replace(microsecond=0)
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id or make_run_id(str(model.get("name")), str(task.get("name")), seed, now),
        "created": created or now.isoformat(),
        "task": {"details": {}, **copy.deepcopy(dict(task))},
        "model": {"name": model.get("name"), "params": dict(model.get("params") or {})},
        "regularizer": {"resolved": {}, **copy.deepcopy(dict(regularizer))},
        "seed": seed,
        "budget": budget,
        "config": copy.deepcopy(dict(config)),
        "config_hash": config_hash or hash_config(config),
        "metrics": metric_entries(metrics, higher_is_better),
        "untrained_metrics": None
        if untrained_metrics is None
        else metric_entries(untrained_metrics, higher_is_better, "untrained_metrics"),
        "times": {k: float(v) for k, v in times.items()},
        "hardware": dict(hardware) if hardware is not None else hardware_info(),
        "git": dict(git) if git is not None else None,
        "checkpoint": dict(checkpoint) if checkpoint is not None else None,
        "jepa_bench_version": __version__,
        "verified": False,
        "notes": notes,
    }
    if eval_protocol is not None:
        record["eval_protocol"] = eval_protocol
    if details is not None:
        record["details"] = copy.deepcopy(dict(details))
    problems = validate_record(record)
    if problems:
        raise ValueError("invalid result record:\n  - " + "\n  - ".join(problems))
    return record
