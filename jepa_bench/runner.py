"""One benchmark run: data -> model -> regulariser -> trainer -> evaluator -> record -> leaderboard.

``execute_run`` is what ``jepa-bench run`` and ``jepa-bench ablate`` call. It writes the run
directory (resolved config, training log, checkpoint, result record) and returns the record.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from jepa_bench.config import BUDGETS, EvalConfig, RunConfig
from jepa_bench.models.check import check_model
from jepa_bench.models.plugins import model_slug, resolve_model
from jepa_bench.registry import TASKS, load_builtins
from jepa_bench.regularizers.compose import build_objective
from jepa_bench.train.loop import TrainSettings

# Settings for a model that declares no defaults of its own (e.g. a user's plug-in model).
GENERIC_TRAIN_DEFAULTS: dict[str, Any] = dict(
    optimizer="adamw",
    lr=1e-3,
    weight_decay=1e-4,
    grad_clip=1.0,
    batch_size=32,
    warmup_frac=0.05,
    window=0,
    reg="vicreg",
)
GENERIC_BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": dict(steps=2, batch_size=4),
    "default": dict(steps=200),
    "full": dict(steps=20_000),
}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch sees no CUDA device")
    return torch.device(name)


def model_defaults(model: nn.Module, budget: str) -> dict[str, Any]:
    """The model family's training defaults merged with its budget overrides."""
    base = {**GENERIC_TRAIN_DEFAULTS, **getattr(model, "TRAIN_DEFAULTS", {})}
    budgets = getattr(model, "BUDGETS", GENERIC_BUDGETS)
    base.update(budgets.get(budget, GENERIC_BUDGETS[budget]))
    return base


TRAIN_FIELDS = (
    "steps",
    "batch_size",
    "lr",
    "weight_decay",
    "grad_clip",
    "optimizer",
    "warmup_frac",
    "window",
)


def resolve_train(cfg: RunConfig, model: nn.Module) -> TrainSettings:
    """Fill every unset training field of ``cfg.train`` from the model's budget defaults."""
    defaults = model_defaults(model, cfg.budget)
    t = cfg.train
    for key in TRAIN_FIELDS:
        if getattr(t, key) is None:
            setattr(t, key, defaults[key])
    return TrainSettings(
        **{k: getattr(t, k) for k in TRAIN_FIELDS},
        log_every=t.log_every,
        checkpoint_every=t.checkpoint_every,
        keep_snapshots=t.keep_snapshots,
        max_minutes=t.max_minutes,
        compile=t.compile,
        precision=t.precision,
    )


#: Budget defaults of the evaluator (probe scores always use whole splits; this caps only the
#: windows whose every frame is encoded for latent error and collapse statistics).
EVAL_BUDGET_DEFAULTS: dict[str, dict[str, Any]] = {
    "smoke": dict(max_eval_windows=32),
    "default": dict(max_eval_windows=128),
    "full": dict(max_eval_windows=None),
}


def resolve_eval(cfg: RunConfig) -> None:
    """Fill unset evaluator fields from the budget's defaults (in place, so they are dumped)."""
    for key, value in EVAL_BUDGET_DEFAULTS[cfg.budget].items():
        if getattr(cfg.eval, key) is None:
            setattr(cfg.eval, key, value)


def twin_eval_config(ev: EvalConfig) -> EvalConfig:
    """How the untrained twin is evaluated: as the model, but without planning (planning is
    scored against its own random and oracle baselines, and costs minutes on CPU)."""
    return replace(ev, planning=False)


def run_id_for(cfg: RunConfig) -> str:
    """The run directory name: readable parts + the hash of the config AS REQUESTED.

    Call it before ``build``/``resolve_*`` fill in defaults, so the same request always maps to
    the same directory (this is what makes ablations resumable).
    """
    reg = re.sub(r"[^A-Za-z0-9_.+-]", "-", cfg.reg or "default")
    model = model_slug(cfg.model)  # a plug-in "path/file.py:factory" is no file name
    return f"{cfg.task}__{model}__{reg}__s{cfg.seed}__{cfg.budget}__{cfg.hash()}"


def build(cfg: RunConfig) -> tuple[Any, nn.Module, Any]:
    """Task, model (regulariser transforms applied) and objective for a config."""
    load_builtins()
    if cfg.budget not in BUDGETS:
        raise ValueError(f"unknown budget {cfg.budget!r}; choose one of {', '.join(BUDGETS)}")
    task_factory = TASKS.get(cfg.task)
    model_factory = resolve_model(cfg.model)
    task = task_factory(budget=cfg.budget, seed=cfg.seed, data_dir=cfg.data_dir, **cfg.task_kwargs)
    seed_everything(cfg.seed)
    model = model_factory(task.spec, **cfg.model_kwargs)
    check_model(model, task.spec, name=cfg.model)  # a clear error before any training
    if cfg.reg is None:
        cfg.reg = str(model_defaults(model, cfg.budget).get("reg", "vicreg"))
    objective = build_objective(cfg.reg, seed=cfg.seed)
    model = objective.transform_model(model)
    return task, model, objective


def execute_run(
    cfg: RunConfig, *, progress: bool = True, leaderboard_dir: str | Path | None = None
) -> dict[str, Any]:
    """Run one configuration end to end and return its result record."""
    from jepa_bench.evaluate.evaluator import evaluate
    from jepa_bench.evaluate.params import param_counts
    from jepa_bench.record.hardware import git_info, hardware_info
    from jepa_bench.record.io import write_record
    from jepa_bench.record.schema import build_record
    from jepa_bench.regularizers.compose import describe_reg
    from jepa_bench.train import distributed as ddp
    from jepa_bench.train.checkpoint import MODEL_FILE, file_sha256
    from jepa_bench.train.loop import train
    from jepa_bench.train.memory import tune_malloc

    tune_malloc()
    t_start = time.perf_counter()
    run_id = run_id_for(cfg)  # from the request, before defaults are filled in
    device = pick_device(cfg.device)
    if ddp.init_from_env(device.type) and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    task, model, objective = build(cfg)
    train_set = task.train_set()  # tasks may generate or convert their data lazily here
    data_s = time.perf_counter() - t_start
    settings = resolve_train(cfg, model)
    resolve_eval(cfg)
    untrained = copy.deepcopy(model)  # same architecture and seed, never trained

    run_dir = Path(cfg.out) / run_id
    if ddp.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    summary = train(
        model,
        objective,
        train_set,
        settings,
        device=device,
        seed=cfg.seed,
        run_dir=run_dir,
        resume=cfg.resume,
        progress=progress,
    )
    if not ddp.is_main():  # rank 0 evaluates and writes the record
        return {}
    t_eval = time.perf_counter()
    trained_eval = evaluate(
        model, task, cfg.eval, device=device, seed=cfg.seed, budget=cfg.budget, progress=progress
    )
    untrained_eval = None
    if cfg.eval.eval_untrained:
        twin_cfg = twin_eval_config(cfg.eval)
        untrained_eval = evaluate(
            untrained.to(device),
            task,
            twin_cfg,
            device=device,
            seed=cfg.seed,
            budget=cfg.budget,
            progress=progress,
        )
    eval_s = time.perf_counter() - t_eval

    def as_metrics(res: Any) -> dict[str, dict[str, Any]]:
        return {
            k: {"value": v, "higher_is_better": res.higher_is_better.get(k, False)}
            for k, v in res.metrics.items()
        }

    record = build_record(
        run_id=run_dir.name,
        task={"name": task.spec.name, "version": task.spec.version, "details": task.describe()},
        model={"name": cfg.model, "params": param_counts(model)},
        regularizer={"spec": cfg.reg, "resolved": describe_reg(cfg.reg, seed=cfg.seed)},
        seed=cfg.seed,
        budget=cfg.budget,
        config=cfg.to_dict(),
        config_hash=cfg.hash(),
        metrics=as_metrics(trained_eval),
        untrained_metrics=as_metrics(untrained_eval) if untrained_eval else {},
        details={
            "trained": trained_eval.details,
            "untrained": untrained_eval.details if untrained_eval else None,
            "train": asdict(summary),
        },
        times={
            "data_s": data_s,
            "train_s": summary.seconds,
            "eval_s": eval_s,
            "total_s": time.perf_counter() - t_start,
        },
        hardware=hardware_info(device),
        git=git_info(Path(__file__).resolve().parent.parent),
        checkpoint={"path": MODEL_FILE, "sha256": file_sha256(run_dir / MODEL_FILE)},
    )
    write_record(run_dir / "result.json", record)
    if leaderboard_dir is not None:
        from jepa_bench.leaderboard.tables import add_record, generate_tables

        add_record(leaderboard_dir, record)
        generate_tables(leaderboard_dir)
    return record


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON preset whose keys override RunConfig defaults."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a mapping of RunConfig fields, got {type(data).__name__}"
        )
    return data
