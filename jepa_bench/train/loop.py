"""The training loop shared by every model family and task.

Batches come from a task's ``WindowSet`` in seeded epoch permutations (the batch at a step is a
function of seed and step alone, so a resumed run sees the same batches). Each step logs every loss
term as a JSON line. A non-finite loss stops training before the optimiser touches the weights,
saves those last good weights, and raises ``NonFiniteLossError`` naming the step and the terms.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from jepa_bench import distributed as ddp
from jepa_bench.config import TrainConfig
from jepa_bench.data.base import WindowSet
from jepa_bench.models.protocol import TrainLatents, WorldModel
from jepa_bench.regularizers.base import Objective
from jepa_bench.train import checkpoint as ckpt
from jepa_bench.train.batches import prefetch
from jepa_bench.train.optim import build_optimizer, build_scheduler

LOG_FILE = "train_log.jsonl"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good weights were kept."""


@dataclass
class TrainSummary:
    steps: int
    seconds: float
    samples: int
    last_terms: dict[str, float] = field(default_factory=dict)
    stopped_early: str | None = None


def _mean_over_ranks(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """Loss terms as floats, averaged over ranks (identical on every rank)."""
    keys = list(terms)
    vals = torch.stack([terms[k].detach().float() for k in keys])
    if ddp.is_distributed():
        import torch.distributed as dist

        dist.all_reduce(vals)
        vals = vals / ddp.world_size()
    return dict(zip(keys, vals.tolist()))


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on CUDA (or when asked for); float32 otherwise."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


@dataclass
class _Session:
    """What one call of ``train`` works with; totals carry over from resumed segments."""

    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    np_rng: np.random.Generator
    start: int
    step_fn: Callable[[torch.Tensor, torch.Tensor], TrainLatents]
    seconds_before: float = 0.0  # training time of earlier segments
    samples_before: int = 0
    terms_before: dict[str, float] = field(default_factory=dict)  # loss terms of the last step


def _resume(model: nn.Module, objective: Objective, run_dir: Path, s: _Session) -> None:
    """Load the run directory's last checkpoint into ``model`` and ``s`` (if it has one)."""
    files = [run_dir / ckpt.MODEL_FILE, run_dir / ckpt.STATE_FILE]
    if not any(f.exists() for f in files):
        return  # never checkpointed: nothing to resume, start from step 0
    ckpt.resume_step(run_dir)  # both files present, readable and of one step
    ckpt.load_model(model, files[0])
    s.start, extra = ckpt.load_train_state(run_dir, s.opt, s.sched, s.np_rng, objective)
    s.seconds_before = float(extra.get("seconds", 0.0))
    s.samples_before = int(extra.get("samples", 0))
    s.terms_before = {str(k): float(v) for k, v in (extra.get("last_terms") or {}).items()}


def _session(
    model: nn.Module,
    objective: Objective,
    settings: TrainConfig,
    device: torch.device,
    seed: int,
    run_dir: Path,
    resume: bool,
) -> _Session:
    """Model on the device, optimiser and schedule, the resumed state, the step function."""
    if ddp.is_distributed():  # before the optimiser sees the parameters
        ddp.convert_batchnorm(model)
    model.to(device).train()
    objective.to(device)
    opt = build_optimizer(model, settings.optimizer, settings.lr, settings.weight_decay)
    sched = build_scheduler(opt, settings.steps, settings.warmup_frac)
    step_fn: Callable[[torch.Tensor, torch.Tensor], TrainLatents]
    if ddp.is_distributed():
        wrapped = torch.nn.parallel.DistributedDataParallel(ddp.TrainStep(model))

        def step_fn(obs: torch.Tensor, actions: torch.Tensor) -> TrainLatents:
            return TrainLatents(*wrapped(obs, actions))

    else:
        train_latents = cast(WorldModel, model).train_latents
        step_fn = torch.compile(train_latents) if settings.compile else train_latents
    s = _Session(opt, sched, np.random.default_rng(seed), 0, step_fn)
    if resume:
        _resume(model, objective, run_dir, s)
    return s


def _checkpoint(
    model: nn.Module,
    objective: Objective,
    s: _Session,
    run_dir: Path,
    done: int,
    totals: tuple[float, int, dict[str, float]],
    snapshot: bool = False,
) -> None:
    """Weights and train state after ``done`` steps, saved together (and a snapshot copy).

    ``totals``: training seconds, samples and the last step's loss terms, over every segment."""
    path = ckpt.save_model(model, run_dir, done)
    if snapshot:  # for checkpoint comparisons in reports
        shutil.copyfile(path, run_dir / f"model_step{done}.safetensors")
    extra = {"seconds": totals[0], "samples": totals[1], "last_terms": totals[2]}
    ckpt.save_train_state(run_dir, done, s.opt, s.sched, s.np_rng, extra, objective=objective)


def _stop_non_finite(
    model: nn.Module, run_dir: Path, step: int, what: str, terms: dict[str, float], main: bool
) -> None:
    """Keep the last good weights and raise ``NonFiniteLossError`` naming the step and terms."""
    if main:  # the weights are still those before this step
        ckpt.save_model(model, run_dir, step)
    bad = ", ".join(f"{k}={v}" for k, v in terms.items())
    raise NonFiniteLossError(
        f"non-finite {what} at step {step} ({bad}); training stopped and the last good "
        f"weights (before step {step}) were saved to {run_dir / ckpt.MODEL_FILE}"
    )


def _open_log(run_dir: Path, start: int) -> Any:
    """The training log, keeping the rows of steps before ``start`` (a resumed run's own)."""
    path = run_dir / LOG_FILE
    kept = []
    if start and path.exists():
        for line in path.read_text().splitlines():
            try:
                if json.loads(line).get("step", start) < start:
                    kept.append(line + "\n")
            except (json.JSONDecodeError, AttributeError):
                continue  # a line cut by the interruption
    log = open(path, "w")
    log.writelines(kept)
    return log


def train(
    model: nn.Module,
    objective: Objective,
    data: WindowSet,
    settings: TrainConfig,
    *,
    device: torch.device,
    seed: int,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    on_device: bool | None = None,
) -> TrainSummary:
    """Train ``model`` in place; writes the log and checkpoints into ``run_dir``.

    Under a torch.distributed process group (torchrun), ``settings.batch_size`` is the global
    batch: each rank trains on its share, gradients are averaged by DDP, regularisers see global
    statistics, and only rank 0 logs and writes checkpoints. ``resume`` continues from the run
    directory's checkpoint; the summary's time and samples then count every segment.
    ``on_device``: make batches with the data's own device path (default: on GPUs only).
    """
    run_dir = Path(run_dir)
    main = ddp.is_main()
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    s = _session(model, objective, settings, device, seed, run_dir, resume)
    start, done = s.start, s.start
    log = _open_log(run_dir, start) if main and start < settings.steps else None
    t0, samples, terms_f, stopped = time.perf_counter(), 0, {}, None
    bar = tqdm(
        total=settings.steps, initial=start, desc="train", disable=not (progress and main),
        unit="step",
    )  # fmt: skip
    try:
        batches = prefetch(
            data, settings.batch_size, seed, start, settings.steps, settings.window, device,
            on_device,
        )  # fmt: skip
        for step, batch in enumerate(batches, start=start):
            obs, actions = batch.obs, batch.actions
            with autocast_for(device, settings.precision):
                terms = objective(s.step_fn(obs, actions), step / max(settings.steps - 1, 1))
            terms_f = _mean_over_ranks(terms)
            if not math.isfinite(terms_f["loss"]):
                _stop_non_finite(model, run_dir, step, "loss", terms_f, main)
            s.opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            if not math.isfinite(float(gnorm)):  # a finite loss can still give NaN gradients
                _stop_non_finite(model, run_dir, step, "gradient", terms_f, main)
            s.opt.step()
            s.sched.step()
            done, samples = step + 1, samples + len(batch)
            elapsed = time.perf_counter() - t0
            if log and (step % settings.log_every == 0 or done == settings.steps):
                row = {"step": step, "lr": s.sched.get_last_lr()[0], "grad_norm": float(gnorm)}
                row.update(terms_f)
                row.update(elapsed_s=round(elapsed, 3), samples_per_s=round(samples / elapsed, 3))
                log.write(json.dumps(row) + "\n")
                log.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{terms_f['loss']:.4g}")
            every = settings.checkpoint_every
            if main and every and done % every == 0 and done < settings.steps:
                totals = (s.seconds_before + elapsed, s.samples_before + samples, terms_f)
                _checkpoint(model, objective, s, run_dir, done, totals, settings.keep_snapshots)
            if settings.max_minutes is not None and elapsed > 60 * settings.max_minutes:
                stopped = f"wall-clock limit of {settings.max_minutes} min reached at step {done}"
                break
    finally:
        bar.close()
        if log:
            log.close()
    seconds = s.seconds_before + (time.perf_counter() - t0 if done > start else 0.0)
    if done == start:  # nothing trained (a finished run resumed): its last terms, as saved
        terms_f = s.terms_before
    elif main:  # a finished run resumed again writes nothing
        totals = (seconds, s.samples_before + samples, terms_f)
        _checkpoint(model, objective, s, run_dir, done, totals)
    model.eval()
    return TrainSummary(done, seconds, s.samples_before + samples, terms_f, stopped)
