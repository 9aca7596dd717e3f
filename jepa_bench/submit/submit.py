"""``submit``: check a run's result record and add it, with its checkpoint, to the leaderboard.

A submission is refused, with every reason, when the record is schema-invalid or incomplete, its
checkpoint is missing, not safetensors or does not hash to the recorded sha256, its config hash is
not ``RunConfig.from_dict(record["config"]).hash()`` (or disagrees with the run's config.yaml or
the record's own task / model / seed / budget), its budget is ``smoke`` (unless allowed), its
task version is not the installed task's or its evaluation protocol not the installed
evaluator's (``protocol_problems``), a metric name is not declared, the task data's hash is
missing, the parameter counts are not those of the rebuilt model, or its planning stopped at its
time cap (``checks``). Nothing is written to the leaderboard unless all pass; writing is under
the leaderboard's lock and never replaces a record already there.

Leaderboard layout added here: ``checkpoints/<task>/<run_id>.safetensors`` beside ``records/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from jepa_bench.config import ConfigError, RunConfig
from jepa_bench.evaluate import EVAL_PROTOCOL
from jepa_bench.leaderboard.lock import DEFAULT_TIMEOUT_S, LeaderboardBusy, leaderboard_lock
from jepa_bench.leaderboard.tables import generate_tables, record_path
from jepa_bench.record.io import RecordError, dumps, file_sha256, load_record, move_into_place
from jepa_bench.record.schema import eval_protocol_of, hash_config, validate_record
from jepa_bench.record.verification import is_verified, strip_verification
from jepa_bench.runner.build import build, build_task
from jepa_bench.runner.rundir import CONFIG_FILE, RESULT_FILE
from jepa_bench.submit.checks import (
    data_hash_problems,
    metric_name_problems,
    param_problems,
    planning_cap_problems,
)

CHECKPOINTS = "checkpoints"
CHECKPOINT_SUFFIX = ".safetensors"


class SubmissionError(ValueError):
    """A refused submission; ``reasons`` lists every problem found."""

    def __init__(self, source: str | Path, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(f"{source}: refused:\n  - " + "\n  - ".join(reasons))


@dataclass
class Submission:
    """What ``submit_run`` wrote."""

    record: Path
    checkpoint: Path | None
    tables: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def leaderboard_checkpoint(leaderboard_dir: str | Path, record: dict[str, Any]) -> Path:
    """Where the leaderboard keeps a record's weights."""
    task, run_id = record["task"]["name"], record["run_id"]
    return Path(leaderboard_dir) / CHECKPOINTS / task / f"{run_id}{CHECKPOINT_SUFFIX}"


def consistency_problems(record: dict[str, Any]) -> list[str]:
    """Config hash and the record's own fields against its config (empty when consistent)."""
    try:
        cfg = RunConfig.from_dict(record["config"])
    except (TypeError, ValueError) as e:
        return [f"config: not a valid run config ({e})"]
    problems = []
    # The stored config as it was hashed: settings added to RunConfig later (with defaults that
    # keep behaviour) must not make an older record look edited.
    stored_hash = hash_config(record["config"])
    if stored_hash != record["config_hash"]:
        problems.append(
            f"config_hash: the record says {record['config_hash']!r} but its config hashes to "
            f"{stored_hash!r} (config or hash edited)"
        )
    pairs = (
        ("seed", record["seed"], cfg.seed),
        ("budget", record["budget"], cfg.budget),
        ("model.name", record["model"]["name"], cfg.model),
        ("task.name", record["task"]["name"], cfg.task),
        ("regularizer.spec", record["regularizer"]["spec"], cfg.reg),
    )
    for name, value, in_config in pairs:
        if value != in_config:
            problems.append(f"{name}: {value!r} in the record but {in_config!r} in its config")
    return problems


def protocol_problems(record: dict[str, Any]) -> list[str]:
    """The record's evaluation protocol against the installed evaluator's (empty when equal)."""
    theirs = eval_protocol_of(record)
    if theirs == EVAL_PROTOCOL:
        return []
    return [
        f"eval_protocol: the record was scored under {theirs!r} but the installed evaluator "
        f"follows {EVAL_PROTOCOL!r}; numbers of different protocols are not comparable (re-run "
        "the evaluation with this version, or use the jepa-bench version that made the record)"
    ]


def checkpoint_problems(path: Path, sha256: str) -> list[str]:
    """A safetensors file whose header reads and whose hash is ``sha256`` (else the reasons)."""
    if path.suffix != CHECKPOINT_SUFFIX:
        return [f"checkpoint: {path.name} is not a {CHECKPOINT_SUFFIX} file (pickles are refused)"]
    if not path.is_file():
        return [f"checkpoint: {path} does not exist"]
    actual = file_sha256(path)
    if actual != sha256:
        return [f"checkpoint: {path} has sha256 {actual}, the record says {sha256}"]
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except Exception as e:  # a matching hash of a corrupt file: the run wrote it corrupt
        return [f"checkpoint: {path} is not a readable safetensors file ({e})"]
    return []


def run_checkpoint(run_dir: Path, record: dict[str, Any]) -> Path | None:
    """The checkpoint path the record names, inside ``run_dir`` (None when it escapes it)."""
    path = (run_dir / record["checkpoint"]["path"]).resolve()
    return path if path.is_relative_to(run_dir.resolve()) else None


def task_problems(
    record: dict[str, Any], data_dir: str | None = None, base: Path | None = None
) -> list[str]:
    """What the config rebuilds (building reads no data) against the record: the installed
    task's version, the model's parameter counts and, when the task offers planning, whether the
    record's planning stopped at its time cap (``checks``)."""
    try:
        cfg = RunConfig.from_dict(record["config"])
        if data_dir is not None:
            cfg = replace(cfg, data_dir=data_dir)
        task = build_task(cfg)
    except ConfigError as e:
        return [f"task: cannot build task {record['task']['name']!r} ({e})"]
    name = record["task"]["name"]
    if task.spec.version != record["task"]["version"]:
        return [
            f"task.version: the run used {record['task']['version']!r} but the installed task "
            f"{name!r} is {task.spec.version!r}; results of different versions are not comparable"
        ]
    try:
        model = build(cfg, base).model
    except (ConfigError, ValueError) as e:
        return [f"model: cannot rebuild {record['model']['name']!r} from the config ({e})"]
    return param_problems(record, model) + planning_cap_problems(record, task)


def _config_file_problems(run_dir: Path, record: dict[str, Any]) -> list[str]:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return []
    try:
        theirs = RunConfig.from_dict(yaml.safe_load(path.read_text())).hash()
    except Exception as e:
        return [f"{CONFIG_FILE}: unreadable ({type(e).__name__}: {e})"]
    if theirs != record["config_hash"]:
        return [f"{CONFIG_FILE}: hashes to {theirs!r}, the record says {record['config_hash']!r}"]
    return []


def check_submission(
    run_dir: str | Path, *, allow_smoke: bool = False, data_dir: str | None = None
) -> tuple[dict[str, Any], Path]:
    """The run's record and checkpoint path when submittable; else ``SubmissionError``."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        run_dir = run_dir.parent
    source = run_dir / RESULT_FILE
    if not source.is_file():
        raise SubmissionError(run_dir, [f"no {RESULT_FILE} in {run_dir} (not a run directory)"])
    try:
        record = load_record(source)
    except (RecordError, OSError) as e:
        raise SubmissionError(source, [f"schema: {e}"]) from None
    reasons = []
    if not record["metrics"]:
        reasons.append("metrics: empty (an incomplete record)")
    if record["budget"] == "smoke" and not allow_smoke:
        reasons.append("budget: a smoke run is a test, not a result (--allow-smoke to submit it)")
    reasons += protocol_problems(record)
    reasons += metric_name_problems(record)
    reasons += data_hash_problems(record)
    reasons += consistency_problems(record)
    reasons += _config_file_problems(run_dir, record)
    checkpoint = None
    if record["checkpoint"] is None:
        reasons.append("checkpoint: the record names none")
    else:
        checkpoint = run_checkpoint(run_dir, record)
        if checkpoint is None:
            reasons.append(f"checkpoint: {record['checkpoint']['path']!r} is outside the run dir")
        else:
            reasons += checkpoint_problems(checkpoint, record["checkpoint"]["sha256"])
    if not reasons:  # rebuilding the model is worth it only for an otherwise sound record
        reasons += task_problems(record, data_dir, base=run_dir)
    if reasons:
        raise SubmissionError(source, reasons)
    assert checkpoint is not None
    return record, checkpoint


def _copy_atomic(src: Path, dest: Path, sha256: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        if file_sha256(Path(tmp)) != sha256:
            raise OSError(f"copying {src} to {dest} changed its content")
        move_into_place(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _create_record(dest: Path, record: dict[str, Any]) -> None:
    """Write ``record`` at ``dest`` only if nothing is there: an atomic create (``os.link`` of a
    finished temporary file fails when ``dest`` exists), so of two writers exactly one wins."""
    problems = validate_record(record)
    if problems:
        raise RecordError("cannot add an invalid record:\n  - " + "\n  - ".join(problems))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(record))
        os.chmod(tmp, 0o644)
        os.link(tmp, dest)  # FileExistsError when another writer got there first
    finally:
        os.unlink(tmp)


def _existing_problem(dest: Path, record: dict[str, Any]) -> str:
    """Why a run whose record is already at ``dest`` is refused."""
    try:
        existing = load_record(dest)
    except RecordError as e:
        return f"{dest} holds an unreadable record ({e}); remove it by hand first"
    if is_verified(existing):
        return (
            f"already submitted and verified: {dest} holds a verified record under this run id, "
            "and a submit never replaces a verified record"
        )
    if dumps(strip_verification(existing)) != dumps(record):
        return f"{dest} already holds a different record under this run id"
    return f"already submitted: {dest} holds this record (verify it: jepa-bench verify {dest})"


def submit_run(
    run_dir: str | Path,
    leaderboard_dir: str | Path = "leaderboard",
    *,
    allow_smoke: bool = False,
    copy_checkpoint: bool = True,
    data_dir: str | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> Submission:
    """Check a run (``check_submission``), then add its record and checkpoint; regenerate tables.

    The leaderboard copy starts unverified (``jepa-bench verify`` marks it). Writing happens under
    the leaderboard's lock (``leaderboard_lock``, waiting up to ``lock_timeout`` s) and the record
    is created atomically, never replaced: a run id already on the leaderboard, verified or not,
    is refused ("already submitted"), so of two simultaneous submits exactly one succeeds. On any
    failure nothing stays written.
    """
    record, checkpoint = check_submission(run_dir, allow_smoke=allow_smoke, data_dir=data_dir)
    notes = []
    if record.get("verified") or "verification" in record:
        notes.append("the run's own verified flag was reset: only the leaderboard copy is verified")
    record = strip_verification(record)
    try:
        with leaderboard_lock(leaderboard_dir, lock_timeout):
            return _write(
                Path(run_dir), leaderboard_dir, record, checkpoint, copy_checkpoint, notes
            )
    except LeaderboardBusy as e:
        raise SubmissionError(run_dir, [str(e)]) from None


def _write(
    run_dir: Path,
    leaderboard_dir: str | Path,
    record: dict[str, Any],
    checkpoint: Path,
    copy_checkpoint: bool,
    notes: list[str],
) -> Submission:
    """The writing half of ``submit_run`` (under the leaderboard's lock)."""
    dest = record_path(leaderboard_dir, record)
    if dest.exists():
        raise SubmissionError(run_dir, [_existing_problem(dest, record)])
    ckpt_dest = leaderboard_checkpoint(leaderboard_dir, record) if copy_checkpoint else None
    sha = record["checkpoint"]["sha256"]
    if ckpt_dest is not None and ckpt_dest.exists() and file_sha256(ckpt_dest) != sha:
        raise SubmissionError(run_dir, [f"{ckpt_dest} already holds different weights"])

    written: list[Path] = []
    try:
        if ckpt_dest is not None and not ckpt_dest.exists():
            _copy_atomic(checkpoint, ckpt_dest, sha)
            written.append(ckpt_dest)
        try:
            _create_record(dest, record)
        except FileExistsError:
            raise SubmissionError(
                run_dir, [f"already submitted: another submit created {dest} first"]
            ) from None
        written.append(dest)
        tables = generate_tables(leaderboard_dir)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if dest in written:
            try:  # tables as the remaining records give them
                generate_tables(leaderboard_dir)
            except Exception:
                pass  # the original error is the one to report
        raise
    return Submission(dest, ckpt_dest, tables, notes)
