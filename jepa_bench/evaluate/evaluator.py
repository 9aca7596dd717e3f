"""The shared evaluator: probes, multi-step latent error and collapse statistics.

It knows models only through ``WorldModel`` (``encode`` / ``rollout``) and tasks only through
``Task.probe_suites()``. Metric keys:

- ``probe/<split>`` (mse_px2 suites, px^2, lower is better);
- ``probe/<target>/r2`` and ``probe/<target>/mse`` (r2 suites; ``probe/<split>/<target>/...``
  when the suite has several eval splits);
- ``latent_error/{mean,final}`` and ``latent_error_rel/{mean,final}`` on the first eval split of
  the first suite;
- ``collapse/{std_min,std_mean,effective_rank,top_pc_share,collapsed}`` on that split's encoded
  latents;
- ``plan/...`` (``jepa_bench.planning.evaluate``) when the task offers planning (``planning()``
  returns a suite) and ``EvalConfig.planning`` is on (every budget but smoke).

Probe heads train on every time step of every window of the suite's train split; a probe batch is
``EvalConfig.probe_batch_size`` windows and the learning rate is ``probe_lr * batch / 256``.
A model whose outputs contain NaN gets NaN metrics and a message in ``details["messages"]``.
``EvalConfig.max_eval_windows`` limits the split of the latent error and collapse statistics to
its first windows (the encoder pass over every frame there is the costly part); probe splits are
always used whole.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from jepa_bench.config import EvalConfig
from jepa_bench.data.base import PlanningSuite, ProbeSuite, Task, planning_suite
from jepa_bench.evaluate.collapse import collapse_stats, is_collapsed
from jepa_bench.evaluate.latent_error import latent_error
from jepa_bench.evaluate.probe import (
    LatentCache,
    SplitLatents,
    fit_linear_probe,
    mse_px2,
    predict,
    r2_and_mse,
    train_mlp_probe,
)
from jepa_bench.models.protocol import WorldModel
from jepa_bench.planning.evaluate import plan_eval


@dataclass
class EvalResult:
    """Metrics (NaN where a value could not be computed), their directions and JSON-able details."""

    metrics: dict[str, float] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, key: str, value: float, higher_is_better: bool) -> None:
        """Record a metric; non-finite values become NaN."""
        value = float(value)
        self.metrics[key] = value if math.isfinite(value) else math.nan
        self.higher_is_better[key] = higher_is_better

    def note(self, message: str) -> None:
        self.details.setdefault("messages", []).append(message)


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients inside; every module's mode and flag restored after."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad_(flag)


def _check_model(model: Any, device: torch.device) -> None:
    if not isinstance(model, nn.Module) or not isinstance(model, WorldModel):
        raise TypeError(
            f"evaluate needs a torch.nn.Module implementing WorldModel (encode, predict, rollout, "
            f"train_latents, param_groups, repr_dim); got {type(model).__name__}"
        )
    for p in model.parameters():
        index_ok = device.index is None or p.device.index == device.index
        if p.device.type != device.type or not index_ok:
            raise ValueError(f"model parameters are on {p.device} but evaluation runs on {device}")
        break


def _suite_keys(suite: ProbeSuite) -> list[str]:
    """The metric keys a suite will produce."""
    if suite.metric == "mse_px2":
        return [f"probe/{split}" for split in suite.evals]
    multi = len(suite.evals) > 1
    keys = []
    for split in suite.evals:
        for target in suite.targets:
            stem = f"probe/{split}/{target}" if multi else f"probe/{target}"
            keys += [f"{stem}/r2", f"{stem}/mse"]
    return keys


def check_suites(suites: list[ProbeSuite]) -> None:
    if not suites:
        raise ValueError("the task has no probe suites; nothing to evaluate")
    seen: dict[str, str] = {}
    for suite in suites:
        if not suite.evals:
            raise ValueError(f"probe suite {suite.name!r} has no eval splits")
        if suite.metric not in ("mse_px2", "r2") or suite.head not in ("mlp", "linear"):
            raise ValueError(
                f"probe suite {suite.name!r}: unknown metric {suite.metric!r} "
                f"or head {suite.head!r}"
            )
        for key in _suite_keys(suite):
            if key in seen:
                raise ValueError(
                    f"probe suites {seen[key]!r} and {suite.name!r} both produce metric {key!r}"
                )
            seen[key] = suite.name


def _normaliser(suite: ProbeSuite, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per target coordinate, shape (K,); identity when the suite gives none."""
    if suite.target_norm is None:
        return np.zeros(k, np.float32), np.ones(k, np.float32)
    mean, std = (np.asarray(a, np.float32).reshape(-1) for a in suite.target_norm)
    if mean.shape != (k,) or std.shape != (k,):
        raise ValueError(
            f"probe suite {suite.name!r}: target_norm has shapes {mean.shape}, {std.shape}; "
            f"its targets have {k} coordinates"
        )
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"probe suite {suite.name!r}: target_norm must be finite with std > 0")
    return mean, std


def _fit_head(
    suite: ProbeSuite,
    train: SplitLatents,
    y_norm: np.ndarray,
    cfg: EvalConfig,
    seed: int,
    device: torch.device,
    progress: bool,
    res: EvalResult,
    info: dict[str, Any],
) -> nn.Module | None:
    """The suite's probe head fitted on its train split (None when it cannot be)."""
    where = f"probe suite {suite.name!r}"
    if not train.finite():
        res.note(
            f"{where} skipped: latents of its train split contain {train.nonfinite_count()} "
            "non-finite values"
        )
        return None
    if suite.head == "linear":
        return fit_linear_probe(train.z, torch.from_numpy(y_norm))
    batch = cfg.probe_batch_size
    head, curve = train_mlp_probe(
        train.z,
        torch.from_numpy(y_norm),  # (N, T, K)
        hidden=cfg.probe_hidden,
        epochs=cfg.probe_epochs,
        batch_size=batch,
        lr=cfg.probe_lr * batch / 256,
        seed=seed,
        device=device,
        progress=progress,
        desc=f"probe {suite.name}",
    )
    info["curve"] = curve
    if curve and not math.isfinite(curve[-1]):
        res.note(f"{where} skipped: probe training diverged (non-finite loss)")
        return None
    return head


def _score_split(
    suite: ProbeSuite,
    split: str,
    pred: np.ndarray | None,
    y: np.ndarray,
    dims: list[int],
    res: EvalResult,
) -> dict[str, Any]:
    """The metrics of one eval split from the head's predictions (NaN when there are none)."""
    if suite.metric == "mse_px2":
        scored = mse_px2(pred, y) if pred is not None else {"value": math.nan}
        res.add(f"probe/{split}", float(scored["value"]), higher_is_better=False)
        return scored
    info: dict[str, Any] = {}
    lo = 0
    for target, k in zip(suite.targets, dims, strict=True):
        r2, mse = (math.nan, math.nan)
        if pred is not None:
            r2, mse = r2_and_mse(pred[..., lo : lo + k], y[..., lo : lo + k])
        lo += k
        stem = f"probe/{split}/{target}" if len(suite.evals) > 1 else f"probe/{target}"
        res.add(f"{stem}/r2", r2, higher_is_better=True)
        res.add(f"{stem}/mse", mse, higher_is_better=False)
        info[target] = {"r2": r2, "mse": mse}
    return info


def _run_suite(
    suite: ProbeSuite,
    cache: LatentCache,
    cfg: EvalConfig,
    seed: int,
    device: torch.device,
    progress: bool,
    res: EvalResult,
) -> None:
    """Fit the suite's probe on its train split and score it on every eval split."""
    where = f"probe suite {suite.name!r}"
    train = cache.get(suite.train, suite.mode, f"{suite.name}:train")
    y_train = train.stacked_targets(suite.targets, f"{where} (train split)")
    dims = [train.targets[t].shape[-1] for t in suite.targets]
    mean, std = _normaliser(suite, sum(dims))
    info: dict[str, Any] = {
        "mode": suite.mode,
        "head": suite.head,
        "metric": suite.metric,
        "targets": list(suite.targets),
        "train_windows": len(train.z),
        "splits": {},
    }
    res.details.setdefault("probes", {})[suite.name] = info
    head = _fit_head(suite, train, (y_train - mean) / std, cfg, seed, device, progress, res, info)
    for split, windows in suite.evals.items():
        ev = cache.get(windows, suite.mode, split)
        y = ev.stacked_targets(suite.targets, f"{where} (split {split!r})")
        pred = None
        if head is not None and not ev.finite():
            res.note(
                f"{where}: latents of split {split!r} contain {ev.nonfinite_count()} "
                "non-finite values; its metrics are NaN"
            )
        elif head is not None:
            pred = predict(head, ev.z, device).numpy() * std + mean  # (N, T, K)
        info["splits"][split] = {
            "windows": len(ev.z),
            **_score_split(suite, split, pred, y, dims, res),
        }


def _dynamics(suite: ProbeSuite, cache: LatentCache, cfg: EvalConfig, res: EvalResult) -> None:
    """Latent error and collapse statistics on the first eval split of ``suite``."""
    split, windows = next(iter(suite.evals.items()))
    pred = cache.get(windows, "rollout", split, cfg.max_eval_windows).z  # (N, T, D)
    enc = cache.get(windows, "encode", split, cfg.max_eval_windows).z  # (N, T, D)
    finite_enc = bool(torch.isfinite(enc).all())
    err: dict[str, Any] = {"split": split, "windows": len(enc)}
    if finite_enc and bool(torch.isfinite(pred).all()):
        err.update(latent_error(pred, enc))
    else:
        res.note(f"latent error: rollout or encoded latents of split {split!r} are not finite")
        err.update({k: math.nan for k in ("mean", "final", "rel_mean", "rel_final")})
    res.details["latent_error"] = err
    res.add("latent_error/mean", err["mean"], higher_is_better=False)
    res.add("latent_error/final", err["final"], higher_is_better=False)
    res.add("latent_error_rel/mean", err["rel_mean"], higher_is_better=False)
    res.add("latent_error_rel/final", err["rel_final"], higher_is_better=False)

    col: dict[str, Any] = {"split": split}
    res.details["collapse"] = col
    directions: dict[Literal["std_min", "std_mean", "effective_rank", "top_pc_share"], bool] = {
        "std_min": True,
        "std_mean": True,
        "effective_rank": True,
        "top_pc_share": False,
    }
    if not finite_enc:
        res.note(f"collapse statistics: encoded latents of split {split!r} are not finite")
        for key, hib in directions.items():
            res.add(f"collapse/{key}", math.nan, higher_is_better=hib)
        res.add("collapse/collapsed", math.nan, higher_is_better=False)
        return
    stats = collapse_stats(enc.reshape(-1, enc.shape[-1]))  # (N*T, D)
    collapsed, message = is_collapsed(stats)
    for key, hib in directions.items():
        res.add(f"collapse/{key}", float(stats[key]), higher_is_better=hib)
    res.add("collapse/collapsed", 1.0 if collapsed else 0.0, higher_is_better=False)
    col["eigenvalues"] = [float(v) for v in stats["eigenvalues"]]
    col["collapsed"] = bool(collapsed)
    col["message"] = message


def _planning(
    model: nn.Module,
    suite: PlanningSuite,
    cfg: EvalConfig,
    device: torch.device,
    seed: int,
    progress: bool,
    res: EvalResult,
) -> None:
    """``plan/...`` metrics from CEM planning in the task's interactive environment."""
    out = plan_eval(model, cfg.plan, device, seed, suite, progress=progress)
    for key, value in out["metrics"].items():
        res.add(key, value, higher_is_better=out["higher_is_better"][key])
    for message in out["details"].get("messages", []):
        res.note(message)
    res.details["planning"] = out["details"]


def evaluate(
    model: nn.Module,
    task: Task,
    cfg: EvalConfig,
    *,
    device: torch.device,
    seed: int,
    progress: bool = True,
) -> EvalResult:
    """Evaluate a frozen ``model`` on every probe suite of ``task`` (see the module docstring)."""
    start = time.perf_counter()
    device = torch.device(device)
    _check_model(model, device)
    suites = list(task.probe_suites())
    check_suites(suites)
    res = EvalResult()
    res.details.update(
        seed=seed,
        probe_epochs=cfg.probe_epochs,
        max_eval_windows=cfg.max_eval_windows,
        messages=[],
    )
    with frozen(model):
        cache = LatentCache(model, device, progress=progress)
        for i, suite in enumerate(suites):
            suite_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
            _run_suite(suite, cache, cfg, suite_seed, device, progress, res)
        _dynamics(suites[0], cache, cfg, res)
        planning = planning_suite(task) if cfg.planning else None
        if planning is not None:
            _planning(model, planning, cfg, device, seed, progress, res)
    res.seconds = time.perf_counter() - start
    return res
