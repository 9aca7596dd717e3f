"""``verify``: reload a record's checkpoint, re-run its evaluation, compare every metric.

The record's config is rebuilt exactly (``RunConfig.from_dict(record["config"])``, whose hash must
be the recorded one), every metric name must be declared (``jepa_bench.record.metrics``), the
checkpoint's sha256 is checked *before* it is loaded, the rebuilt model's parameter counts must be
the recorded ones, and the task data's hash, computed from the data verify evaluates on (the
verifier's cache or ``data_dir``, never the record's own data folder), must be the recorded one.
The evaluator then runs with the recorded seed, budget and evaluation settings on the installed
task, whose version must be the recorded one, by the installed evaluator, whose protocol
(``EVAL_PROTOCOL``) must be the recorded one. The untrained twin (same architecture and seed) is
re-evaluated too. A record whose planning stopped at its time cap cannot be verified (``error``;
``submit`` refuses it).

Outcomes: ``passed`` (every metric within tolerance), ``failed`` (a metric off, a hash mismatch,
weights that do not fit the model) and ``error`` (nothing to compare: no checkpoint here, another
task version or evaluation protocol installed, a model that cannot be built).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from jepa_bench import __version__
from jepa_bench.config import RunConfig
from jepa_bench.data.base import TaskDataError
from jepa_bench.data.hashing import DATA_HASH_KEY, task_data_sha256
from jepa_bench.evaluate.evaluator import evaluate
from jepa_bench.leaderboard.lock import leaderboard_lock
from jepa_bench.leaderboard.tables import RECORDS, add_record, generate_tables, record_path
from jepa_bench.models.params import param_counts
from jepa_bench.record.hardware import hardware_info, hardware_short
from jepa_bench.record.io import dumps, load_record
from jepa_bench.record.verification import UNTRAINED_PREFIX, strip_verification
from jepa_bench.runner import RunDirError, load_trained
from jepa_bench.runner.build import twin_eval_config
from jepa_bench.submit.checks import (
    data_hash_problems,
    metric_name_problems,
    param_problems,
    planning_cap_problems,
)
from jepa_bench.submit.compare import DEFAULT_ATOL, DEFAULT_RTOL, MetricCheck, compare_metrics
from jepa_bench.submit.submit import (
    RESULT_FILE,
    checkpoint_problems,
    consistency_problems,
    leaderboard_checkpoint,
    protocol_problems,
    run_checkpoint,
)

Status = Literal["passed", "failed", "error"]
RULE = "|recomputed - recorded| <= atol + rtol * |recorded|; NaN matches only NaN"


@dataclass
class Verification:
    """The outcome of ``verify_record``; ``block`` is what the leaderboard copy stores."""

    record_file: Path
    record: dict[str, Any]
    status: Status
    problems: list[str] = field(default_factory=list)
    checks: list[MetricCheck] = field(default_factory=list)
    checkpoint: Path | None = None
    block: dict[str, Any] | None = None
    found: dict[str, Any] = field(default_factory=dict)  # rebuilt params, recomputed data hash

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def record_file_of(path: str | Path) -> Path:
    """A run directory's result.json, or the record file itself."""
    path = Path(path)
    return path / RESULT_FILE if path.is_dir() else path


def leaderboard_root(record_file: Path, record: dict[str, Any]) -> Path | None:
    """The leaderboard directory a record file lives in (``records/<task>/<run_id>.json``)."""
    parent = record_file.resolve().parent
    if (
        parent.parent.name == RECORDS
        and parent.name == record["task"]["name"]
        and record_file.stem == record["run_id"]
    ):
        return parent.parent.parent
    return None


def locate_checkpoint(
    record: dict[str, Any], record_file: Path, explicit: str | Path | None = None
) -> Path | None:
    """``explicit``, else the run directory's file, else the leaderboard's copy (None: none)."""
    if explicit is not None:
        return Path(explicit)
    if record["checkpoint"] is None:
        return None
    root = leaderboard_root(record_file, record)
    if root is not None:
        return leaderboard_checkpoint(root, record)
    return run_checkpoint(record_file.parent, record)


@dataclass
class Recomputed:
    """What ``_recompute`` found: a status when it stopped early, else the metrics."""

    device: str  # where the evaluation ran (or would have)
    status: Status | None = None
    problems: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    untrained: dict[str, float] | None = None


def _recompute(
    record: dict[str, Any],
    record_file: Path,
    checkpoint: Path,
    device: str,
    data_dir: str | None,
    untrained: bool,
    progress: bool,
    found: dict[str, Any],
) -> Recomputed:
    """The record's evaluation run again; ``found`` receives the rebuilt model's parameter
    counts and the data's hash."""
    cfg = RunConfig.from_dict(record["config"])
    # Never the record's own data_dir: data planted there would be what verify evaluates on. The
    # verifier's cache (or --data-dir) is used, and the data's hash must be the recorded one.
    # Planning's wall-clock cap only protects a run's time budget; a verifier on a slower or busier
    # machine must still reproduce the planning metrics, so it plans without the cap.
    cfg = replace(
        cfg, data_dir=data_dir, device=device, eval=replace(
            cfg.eval, plan=replace(cfg.eval.plan, max_minutes=None)
        ),
    )  # fmt: skip
    try:
        run = load_trained(cfg, checkpoint, device, base=record_file.parent)
    except RunDirError as e:
        return Recomputed(device, "failed", [f"checkpoint: {e}"])
    except Exception as e:  # a model or task that cannot be built here
        return Recomputed(device, "error", [f"cannot rebuild the run: {type(e).__name__}: {e}"])
    used = str(run.device)
    if run.task.spec.version != record["task"]["version"]:
        return Recomputed(used, "error", [
            f"task.version: the run used {record['task']['version']!r}, the installed task is "
            f"{run.task.spec.version!r}; verify with the jepa-bench version that made the record"
        ])  # fmt: skip
    found["params"] = param_counts(run.model)
    try:
        found[DATA_HASH_KEY] = task_data_sha256(run.task)  # from the data evaluated on
    except TaskDataError as e:
        return Recomputed(used, "error", [f"task data: {e}"])
    problems = param_problems(record, run.model) + data_hash_problems(record, found[DATA_HASH_KEY])
    if problems:  # another model or other data: their numbers would prove nothing
        return Recomputed(used, "failed", problems)
    kw: dict[str, Any] = dict(device=run.device, seed=cfg.seed, progress=progress)
    out = Recomputed(used, metrics=evaluate(run.model, run.task, cfg.eval, **kw).metrics)
    if untrained:
        out.untrained = evaluate(run.untrained, run.task, twin_eval_config(cfg.eval), **kw).metrics
    return out


def _block(result: Verification, rtol: float, atol: float, device: str) -> dict[str, Any]:
    return {
        "verified": result.passed,
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "tolerance": {"rtol": rtol, "atol": atol, "rule": RULE},
        "device": device,
        "hardware": hardware_short(hardware_info(device if device != "auto" else None)),
        "jepa_bench_version": __version__,
        "checkpoint_sha256": (result.record["checkpoint"] or {}).get("sha256"),
        "config_hash": result.record["config_hash"],
        "params": result.found.get("params"),  # counted from the rebuilt model
        DATA_HASH_KEY: result.found.get(DATA_HASH_KEY),  # computed from the data evaluated on
        "metrics": {c.name: c.to_dict() for c in result.checks},
        "problems": list(result.problems),
    }


def verify_record(
    path: str | Path,
    *,
    checkpoint: str | Path | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    device: str = "auto",
    data_dir: str | None = None,
    untrained: bool = True,
    progress: bool = False,
) -> Verification:
    """Re-evaluate the record at ``path`` (a record file or run directory) and compare."""
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"tolerances must be >= 0, got rtol={rtol}, atol={atol}")
    record_file = record_file_of(path)
    record = load_record(record_file)  # RecordError names the file and every problem
    result = Verification(record_file, record, "failed")
    result.problems += protocol_problems(record)
    if result.problems:  # the installed evaluator cannot reproduce numbers of another protocol
        result.status = "error"
        return result
    result.problems += planning_cap_problems(record)
    if result.problems:  # a capped run's planning cannot be reproduced (refused at submit)
        result.status = "error"
        return result
    result.problems += metric_name_problems(record) + consistency_problems(record)
    result.problems += data_hash_problems(record)
    ckpt = locate_checkpoint(record, record_file, checkpoint)
    result.checkpoint = ckpt
    if result.problems:  # an edited record fails whether or not its weights are here
        result.block = _block(result, rtol, atol, device)
        return result
    if record["checkpoint"] is None:  # no recorded hash: no weights can be trusted
        result.status = "error"
        result.problems.append("checkpoint: the record names none, so no weights can be checked")
        return result
    if ckpt is None or not ckpt.is_file():
        result.status = "error"
        where = ckpt or record["checkpoint"]["path"]
        result.problems.append(f"checkpoint: {where} not found; pass --checkpoint PATH")
        return result
    result.problems += checkpoint_problems(ckpt, record["checkpoint"]["sha256"])
    if result.problems:  # never load weights that are not the recorded ones
        result.block = _block(result, rtol, atol, device)
        return result
    want_twin = untrained and bool(record.get("untrained_metrics"))
    got = _recompute(record, record_file, ckpt, device, data_dir, want_twin, progress, result.found)
    result.problems += got.problems
    if got.status is not None:
        result.status = got.status
        result.block = _block(result, rtol, atol, got.device) if got.status == "failed" else None
        return result
    result.checks = compare_metrics(record["metrics"], got.metrics, rtol, atol)
    if got.untrained is not None:
        result.checks += compare_metrics(
            record["untrained_metrics"], got.untrained, rtol, atol, prefix=UNTRAINED_PREFIX
        )
    result.status = "passed" if all(c.passed for c in result.checks) else "failed"
    result.block = _block(result, rtol, atol, got.device)
    return result


def mark_leaderboard(result: Verification, leaderboard_dir: str | Path | None = None) -> Path:
    """Store the outcome in the leaderboard copy of the record and regenerate the tables.

    ``leaderboard_dir`` defaults to the one the record file lives in. The copy there must be the
    verified record (apart from an earlier verification).
    """
    if result.block is None:
        raise ValueError("nothing to store: the record could not be verified here")
    root = leaderboard_dir or leaderboard_root(result.record_file, result.record)
    if root is None:
        raise ValueError(f"{result.record_file} is not in a leaderboard; name the leaderboard dir")
    dest = record_path(root, result.record)
    if not dest.is_file():
        raise FileNotFoundError(f"{dest} does not exist: submit the run first (jepa-bench submit)")
    base = strip_verification(result.record)
    if dumps(strip_verification(load_record(dest))) != dumps(base):
        raise ValueError(f"{dest} holds a different record than {result.record_file}")
    updated = {**base, "verified": result.passed, "verification": result.block}
    with leaderboard_lock(root):
        add_record(root, updated, overwrite=True, unverify=True)  # a failed re-check un-verifies
        generate_tables(root)
    return dest


def _num(v: float | None) -> str:
    return "missing" if v is None else f"{v:.6g}"


def format_checks(result: Verification) -> str:
    """A fixed-width table: metric | recorded | recomputed | |diff| | pass."""
    rows = [("metric", "recorded", "recomputed", "|diff|", "pass")]
    for c in result.checks:
        diff = c.abs_diff
        rows.append((
            c.name, _num(c.recorded), _num(c.recomputed),
            "-" if diff != diff else f"{diff:.3g}", "yes" if c.passed else "NO",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
