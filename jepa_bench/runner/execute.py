"""One benchmark run: data -> model -> regulariser -> trainer -> evaluator -> record.

``execute_run`` is what ``jepa-bench run`` and ``jepa-bench ablate`` call with a resolved config.
Everything is built and checked before the run directory is made, so a rejected run leaves
nothing behind. It writes the run directory (config.yaml, training log, checkpoint, result.json)
and returns the record. A run that fails later (in training or evaluation) keeps its directory
only when it holds a checkpoint to resume from (``RunDir.settle_failed``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from jepa_bench import distributed as ddp
from jepa_bench.config import RunConfig
from jepa_bench.data.base import Task, WindowSet
from jepa_bench.data.hashing import DATA_HASH_KEY, task_data_sha256
from jepa_bench.evaluate.evaluator import EVAL_PROTOCOL, EvalResult, evaluate
from jepa_bench.leaderboard.lock import leaderboard_lock
from jepa_bench.leaderboard.tables import add_record, generate_tables
from jepa_bench.models.params import param_counts
from jepa_bench.record.hardware import git_info, hardware_info
from jepa_bench.record.io import file_sha256, write_record
from jepa_bench.record.schema import build_record
from jepa_bench.regularizers.compose import describe_reg
from jepa_bench.runner.build import Built, build, pick_device, run_id_for, twin_eval_config
from jepa_bench.runner.outdirs import check_output_dirs
from jepa_bench.runner.rundir import RunDir
from jepa_bench.train.checkpoint import MODEL_FILE, CheckpointError
from jepa_bench.train.loop import NonFiniteLossError, train


@dataclass
class Evaluations:
    """The trained model's evaluation and, when asked for, its untrained twin's."""

    trained: EvalResult
    untrained: EvalResult | None
    seconds: float


def as_metrics(res: EvalResult) -> dict[str, dict[str, Any]]:
    """Record entries ``{value, higher_is_better}`` of an evaluation."""
    return {
        k: {"value": v, "higher_is_better": res.higher_is_better.get(k, False)}
        for k, v in res.metrics.items()
    }


def evaluate_both(
    cfg: RunConfig,
    task: Task,
    model: nn.Module,
    untrained: nn.Module,
    device: torch.device,
    progress: bool,
) -> Evaluations:
    """Evaluate the trained model, then (unless switched off) the untrained twin."""
    t0 = time.perf_counter()
    trained = evaluate(model, task, cfg.eval, device=device, seed=cfg.seed, progress=progress)
    twin = None
    if cfg.eval.eval_untrained:
        twin = evaluate(
            untrained.to(device),
            task,
            twin_eval_config(cfg.eval),
            device=device,
            seed=cfg.seed,
            progress=progress,
        )
    return Evaluations(trained, twin, time.perf_counter() - t0)


def task_entry(task: Task) -> dict[str, Any]:
    """The record's ``task``: name, version and ``describe()``, whose ``data_sha256`` (computed
    from the data, ``jepa_bench.data.hashing``) is added when the task does not report it."""
    details = dict(task.describe())
    if not details.get(DATA_HASH_KEY):
        details[DATA_HASH_KEY] = task_data_sha256(task)
    return {"name": task.spec.name, "version": task.spec.version, "details": details}


def make_record(
    cfg: RunConfig,
    rundir: RunDir,
    task: Task,
    model: nn.Module,
    train: dict[str, Any] | None,
    evals: Evaluations,
    times: Mapping[str, float],
    device: torch.device,
    extra_details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The result record of a finished run (validated); ``train`` is its ``TrainSummary`` as a
    dict, ``extra_details`` more entries of ``details`` (e.g. where a re-scored record came from).
    """
    return build_record(
        run_id=rundir.path.name,
        task=task_entry(task),
        model={"name": cfg.model, "params": param_counts(model)},
        regularizer={"spec": cfg.reg, "resolved": describe_reg(cfg.reg, seed=cfg.seed)},
        seed=cfg.seed,
        budget=cfg.budget,
        config=cfg.to_dict(),
        config_hash=cfg.hash(),
        metrics=as_metrics(evals.trained),
        untrained_metrics=as_metrics(evals.untrained) if evals.untrained else {},
        details={
            "trained": evals.trained.details,
            "untrained": evals.untrained.details if evals.untrained else None,
            "train": train,
            **(extra_details or {}),
        },
        times=times,
        hardware=hardware_info(device),
        git=git_info(Path(__file__).resolve().parent.parent.parent),
        checkpoint={"path": MODEL_FILE, "sha256": file_sha256(rundir.model_file)},
        eval_protocol=EVAL_PROTOCOL,
    )


class RunFailedError(RuntimeError):
    """Training or evaluation raised; the message says whether the run directory was kept."""


def _train_and_record(
    cfg: RunConfig,
    built: Built,
    train_set: WindowSet,
    rundir: RunDir,
    device: torch.device,
    progress: bool,
    started: tuple[float, float],
) -> dict[str, Any]:
    """Train, evaluate and write the record (rank 0; other ranks train and return ``{}``).

    ``started``: when the run started (``perf_counter``) and the seconds its data took.
    """
    untrained = copy.deepcopy(built.model)  # same architecture and seed, never trained
    if ddp.is_main():
        rundir.config_file.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    summary = train(
        built.model,
        built.objective,
        train_set,
        cfg.train,
        device=device,
        seed=cfg.seed,
        run_dir=rundir.path,
        resume=cfg.resume,
        progress=progress,
    )
    if not ddp.is_main():  # rank 0 evaluates and writes the record
        return {}
    evals = evaluate_both(cfg, built.task, built.model, untrained, device, progress)
    times = {
        "data_s": started[1],
        "train_s": summary.seconds,
        "eval_s": evals.seconds,
        "total_s": time.perf_counter() - started[0],
    }
    train_info = asdict(summary)
    record = make_record(cfg, rundir, built.task, built.model, train_info, evals, times, device)
    write_record(rundir.result_file, record)
    return record


def execute_run(
    cfg: RunConfig, *, progress: bool = True, leaderboard_dir: str | Path | None = None
) -> dict[str, Any]:
    """Run one resolved configuration end to end and return its result record.

    ``leaderboard_dir``: also add the record to that leaderboard folder and regenerate its
    tables. Under torchrun every rank trains; rank 0 evaluates and writes, others return ``{}``.
    """
    t_start = time.perf_counter()
    check_output_dirs(cfg, leaderboard_dir)  # before the task writes its data cache
    device = pick_device(cfg.device)
    if ddp.init_from_env(device.type) and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    built = build(cfg)  # every check that needs the task or the model happens here
    train_set = built.task.train_set()  # tasks may generate or convert their data lazily here
    started = (t_start, time.perf_counter() - t_start)

    rundir = RunDir(Path(cfg.out) / run_id_for(cfg))
    with rundir.lock() if ddp.is_main() else nullcontext():
        try:
            record = _train_and_record(cfg, built, train_set, rundir, device, progress, started)
        except (NonFiniteLossError, CheckpointError):
            raise  # their messages say what was kept
        except Exception as exc:
            fate = rundir.settle_failed() if ddp.is_main() else "see rank 0 for the run directory"
            raise RunFailedError(
                f"the run failed during training or evaluation ({type(exc).__name__}: {exc}); "
                f"{fate}"
            ) from exc
        except BaseException:  # Ctrl-C, SIGTERM: as above, without wrapping
            if ddp.is_main():
                rundir.settle_failed()
            raise
        if not record:
            return {}
    if leaderboard_dir is not None:  # a folder the user named; never one of the repository's
        with leaderboard_lock(leaderboard_dir):
            add_record(leaderboard_dir, record)  # refuses to replace a verified record
            generate_tables(leaderboard_dir)
    return record
