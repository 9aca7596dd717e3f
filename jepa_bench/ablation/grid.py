"""Run a grid of configurations, resuming finished runs, optionally several at a time."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from jepa_bench.config import RunConfig
from jepa_bench.record.io import load_record
from jepa_bench.runner import RunDir, execute_run, resolve, run_id_for
from jepa_bench.train.memory import tune_malloc


def grid_configs(
    base: Mapping[str, Any], regs: Sequence[str], seeds: Sequence[int]
) -> list[RunConfig]:
    """One resolved config per (regulariser, seed), everything else from the ``base`` request.

    Seed-major order (every regulariser at seed 0, then at seed 1, ...): an ablation stopped
    part-way leaves complete seeds behind, and ``--seeds`` with a smaller N summarises them.
    """
    return [resolve({**base, "reg": reg, "seed": seed}) for seed in seeds for reg in regs]


def finished_record(cfg: RunConfig) -> dict[str, Any] | None:
    """The valid result record of a finished run of ``cfg``, else None (idempotent re-runs)."""
    path = RunDir(Path(cfg.out) / run_id_for(cfg)).result_file
    if not path.exists():
        return None
    try:
        return load_record(path)
    except (ValueError, OSError):
        return None  # corrupt or partial: run again


def _run_one(cfg_dict: dict[str, Any], threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    tune_malloc()  # a worker process of ours
    return execute_run(RunConfig.from_dict(cfg_dict), progress=False)


def run_grid(
    configs: Sequence[RunConfig],
    jobs: int = 1,
    progress: bool = True,
    on_done: Callable[[RunConfig, dict[str, Any], bool], None] | None = None,
    launcher: str = "local",
    launcher_params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or reuse) every config.

    ``launcher="local"``: in this process, or ``jobs`` worker processes when jobs > 1.
    ``launcher="submitit"``: one cluster job per unfinished run through submitit (SLURM, or
    submitit's local/debug executors), with ``launcher_params`` passed to
    ``AutoExecutor.update_parameters`` (e.g. ``slurm_partition``, ``gpus_per_node``,
    ``timeout_min``). Runs are keyed by their config hash, so re-submitting a grid only runs
    what has no valid result yet.
    """
    records: dict[int, dict[str, Any]] = {}
    todo = []
    for i, cfg in enumerate(configs):
        rec = finished_record(cfg)
        if rec is not None:
            records[i] = rec
            if on_done:
                on_done(cfg, rec, True)
        else:
            todo.append(i)
    if launcher == "submitit":
        for i, rec in _submit_all(configs, todo, launcher_params or {}):
            records[i] = rec
            if on_done:
                on_done(configs[i], rec, False)
    elif launcher != "local":
        raise ValueError(f"unknown launcher {launcher!r}; use 'local' or 'submitit'")
    elif jobs <= 1:
        for i in todo:
            records[i] = execute_run(configs[i], progress=progress)
            if on_done:
                on_done(configs[i], records[i], False)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futs = {pool.submit(_run_one, configs[i].to_dict(), threads): i for i in todo}
            for fut in as_completed(futs):
                i = futs[fut]
                records[i] = fut.result()
                if on_done:
                    on_done(configs[i], records[i], False)
    return [records[i] for i in range(len(configs))]


def _submit_all(
    configs: Sequence[RunConfig], todo: list[int], params: dict[str, Any]
) -> list[tuple[int, dict[str, Any]]]:
    """Submit each unfinished run as its own submitit job and wait for the records."""
    try:
        import submitit
    except ImportError as err:
        raise RuntimeError(
            "the submitit launcher needs the cluster extra: pip install 'jepa-bench[cluster]'"
        ) from err
    params = dict(params)
    cluster = params.pop("cluster", None)
    folder = Path(configs[0].out if configs else ".") / "submitit" / "%j"
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    threads = int(params.pop("threads", params.get("cpus_per_task", 1) or 1))
    if params:
        executor.update_parameters(**params)
    jobs = [(i, executor.submit(_run_one, configs[i].to_dict(), threads)) for i in todo]
    return [(i, job.result()) for i, job in jobs]
