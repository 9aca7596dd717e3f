"""``rescore``: evaluate a recorded checkpoint again under today's evaluation protocol.

A record states the evaluation protocol its numbers come from (``eval_protocol``); numbers of
different protocols never share a table, and ``verify`` refuses a record of another protocol.
Re-scoring keeps what the run trained (model, task, regulariser, seed, budget, training settings
and the checkpoint, whose sha256 is checked before it is loaded) and replaces what it was scored
with: the evaluation settings are resolved again from today's defaults (only the choices
``eval.planning`` and ``eval.eval_untrained`` are kept), the model and its untrained twin are
evaluated, and a new run directory is written under the new config hash, with the checkpoint
copied, a config.yaml and a result.json whose ``details.rescore`` names the record it came from.
It is a run directory like any other: ``submit`` and ``verify`` take it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from jepa_bench.config import RunConfig
from jepa_bench.record.io import load_record, write_record
from jepa_bench.runner import load_trained, resolve, run_id_for
from jepa_bench.runner.execute import Evaluations, evaluate_both, make_record
from jepa_bench.runner.rundir import RunDir
from jepa_bench.submit.submit import checkpoint_problems, consistency_problems
from jepa_bench.submit.verify import locate_checkpoint, record_file_of

KEPT_EVAL = ("planning", "eval_untrained")  # choices of the run, not part of the protocol


class RescoreError(ValueError):
    """A record that cannot be re-scored here (edited, no checkpoint, another checkpoint)."""


def rescore_config(cfg: RunConfig, out: str | Path) -> RunConfig:
    """``cfg`` with its evaluation settings resolved again from today's defaults."""
    stored = cfg.to_dict()
    request: dict[str, Any] = {
        k: v for k, v in stored.items() if k not in ("eval", "model_sha256", "out", "resume")
    }
    request["eval"] = {k: stored["eval"][k] for k in KEPT_EVAL}
    request["out"] = str(out)
    fresh = resolve(request)
    if fresh.train != cfg.train:  # today's resolution must not change what was trained
        raise RescoreError(
            f"training settings resolve differently today ({cfg.train} -> {fresh.train})"
        )
    return replace(fresh, model_sha256=cfg.model_sha256)


def rescore(
    path: str | Path,
    out: str | Path,
    *,
    checkpoint: str | Path | None = None,
    device: str = "auto",
    data_dir: str | None = None,
    progress: bool = False,
) -> Path:
    """Re-score the record at ``path`` (record file or run directory) into a new run directory
    under ``out``; returns it. Raises ``RescoreError`` when the record cannot be trusted."""
    record_file = record_file_of(path)
    record = load_record(record_file)
    problems = consistency_problems(record)
    ckpt = locate_checkpoint(record, record_file, checkpoint)
    if record["checkpoint"] is None or ckpt is None or not ckpt.is_file():
        problems.append(f"checkpoint: {ckpt or 'none recorded'} not found; pass --checkpoint")
    else:
        problems += checkpoint_problems(ckpt, record["checkpoint"]["sha256"])
    if problems:
        raise RescoreError(f"{record_file}: " + "; ".join(problems))
    assert ckpt is not None
    old = RunConfig.from_dict(record["config"])
    cfg = rescore_config(replace(old, data_dir=data_dir or old.data_dir), out)
    cfg = replace(cfg, device=device)
    rundir = RunDir(Path(out) / run_id_for(cfg))
    if rundir.path.exists():
        raise RescoreError(f"{rundir.path} exists: it already holds this re-scored run")
    run = load_trained(cfg, ckpt, device, base=record_file.parent)
    t0 = time.perf_counter()
    evals = evaluate_both(cfg, run.task, run.model, run.untrained, run.device, progress)
    rundir.path.mkdir(parents=True)
    try:
        shutil.copyfile(ckpt, rundir.model_file)
        rundir.config_file.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        new = _record(cfg, record, run, evals, rundir, time.perf_counter() - t0)
        write_record(rundir.result_file, new)
    except BaseException:
        shutil.rmtree(rundir.path, ignore_errors=True)
        raise
    return rundir.path


def _record(
    cfg: RunConfig, old: dict[str, Any], run: Any, evals: Evaluations, rundir: RunDir, eval_s: float
) -> dict[str, Any]:
    """The re-scored record: the old run's training facts, today's evaluation."""
    times = {**old["times"], "eval_s": eval_s}
    times["total_s"] = sum(times.get(k, 0.0) for k in ("data_s", "train_s", "eval_s"))
    origin = {
        "from_run_id": old["run_id"],
        "from_config_hash": old["config_hash"],
        "from_eval_protocol": old.get("eval_protocol"),
        "trained_on": old.get("hardware"),
        "trained_created": old.get("created"),
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }
    train = (old.get("details") or {}).get("train")
    return make_record(
        cfg, rundir, run.task, run.model, train, evals, times, run.device, {"rescore": origin}
    )
