"""Probe suites: fit each suite's head on its train split and score it on every eval split.

An MLP head follows the DL25SP course's protocol (``jepa_bench.evaluate.mlp_probe``) and is fitted
once per prober seed (``EvalConfig.probe_seeds``: each seed draws its own initialisation, data
order and sampled time steps). Every metric is the mean over the seeds; with two or more seeds its
spread, the sample standard deviation over them, is the metric ``probe_seed_std/<rest>`` (for
``probe/<rest>``) and each split's details keep the per-seed values. A linear head is fitted once
in closed form, each target's ridge strength chosen by episode-grouped cross-validation on the
probe-train split (``jepa_bench.evaluate.ridge_cv``; the suite's details keep it under ``ridge``);
each R2 gets its bootstrap interval over the split's episodes, ``.../r2_lo`` and ``.../r2_hi``.
Every split of an ``mse_px2`` suite also gets ``chance/<split>``: the error of the constant
predictor (the probe-train split's mean target) on the same scored windows, the denominator of
the leaderboard's chance-normalised score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from jepa_bench.config import EvalConfig
from jepa_bench.data.base import ProbeSuite
from jepa_bench.evaluate.mlp_probe import scored_windows, train_mlp_probe
from jepa_bench.evaluate.probe import (
    LatentCache,
    SplitLatents,
    mse_px2,
    predict,
    r2_and_mse,
)
from jepa_bench.evaluate.result import EvalResult
from jepa_bench.evaluate.ridge_cv import (
    ALPHA_GRID,
    EpisodeBootstrap,
    fit_ridge_cv,
    window_groups,
)
from jepa_bench.record.metrics import spread_of

CHANCE_PREFIX = "chance/"  # + the split name of an mse_px2 suite

Scores = dict[str, tuple[float, bool]]  # metric key -> (value, higher_is_better)


def suite_keys(suite: ProbeSuite) -> list[str]:
    """The metric keys a suite will produce (spreads aside)."""
    if suite.metric == "mse_px2":
        return [f"probe/{split}" for split in suite.evals]
    multi = len(suite.evals) > 1
    keys = []
    for split in suite.evals:
        for target in suite.targets:
            stem = f"probe/{split}/{target}" if multi else f"probe/{target}"
            keys += [f"{stem}/r2", f"{stem}/r2_lo", f"{stem}/r2_hi", f"{stem}/mse"]
    return keys


def check_suites(suites: list[ProbeSuite]) -> None:
    """Raise ``ValueError`` for no suites, an unknown metric or head, or clashing metric names."""
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
        for key in suite_keys(suite):
            if key in seen:
                raise ValueError(
                    f"probe suites {seen[key]!r} and {suite.name!r} both produce metric {key!r}"
                )
            seen[key] = suite.name


def prober_seeds(suite_seed: int, count: int) -> list[int]:
    """``count`` independent prober seeds derived from a suite's seed."""
    return [int(np.random.SeedSequence([suite_seed, j]).generate_state(1)[0]) for j in range(count)]


def chance_mse(y_train: np.ndarray, y: np.ndarray) -> float:
    """The constant predictor's error on a split: ``mse_px2`` of predicting, at every window and
    time step, the probe-train split's mean target (per coordinate). ``y_train``: (N, T, K) and
    ``y``: (M, T', K) in target units. A probe at this error has learnt nothing (score 1.0)."""
    const = y_train.reshape(-1, y_train.shape[-1]).astype(np.float64).mean(axis=0)  # (K,)
    return float(mse_px2(np.broadcast_to(const, y.shape), y)["value"])


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


def _fit_heads(
    suite: ProbeSuite,
    train: SplitLatents,
    y_norm: np.ndarray,
    cfg: EvalConfig,
    seed: int,
    device: torch.device,
    progress: bool,
    res: EvalResult,
    info: dict[str, Any],
) -> list[nn.Module | None]:
    """The suite's heads fitted on its train split, one per prober seed (None: cannot be)."""
    where = f"probe suite {suite.name!r}"
    if not train.finite():
        res.note(
            f"{where} skipped: latents of its train split contain {train.nonfinite_count()} "
            "non-finite values"
        )
        return [None] * (cfg.probe_seeds if suite.head == "mlp" else 1)
    y = torch.from_numpy(y_norm)  # (N, T, K)
    if suite.head == "linear":
        groups, kind = window_groups(suite.train, len(train.z))
        dims = {t: int(train.targets[t].shape[-1]) for t in suite.targets}
        fit = fit_ridge_cv(train.z, y, groups, dims)
        info["ridge"] = {
            "alpha": fit.alpha,
            "grid": list(ALPHA_GRID),
            "cv_r2": fit.cv_r2,
            "folds": fit.folds,
            "groups": kind,
            "train_groups": fit.groups,
        }
        return [fit.head]
    seeds = prober_seeds(seed, cfg.probe_seeds)
    heads: list[nn.Module | None] = []
    info["prober_seeds"] = seeds  # torch.manual_seed values: the course's run of each
    info["curves"] = []
    for j, s in enumerate(seeds):
        head, curve = train_mlp_probe(
            train.z,
            y,
            hidden=cfg.probe_hidden,
            epochs=cfg.probe_epochs,
            batch_size=cfg.probe_batch_size,
            lr=cfg.probe_lr,
            seed=s,
            device=device,
            sample_steps=cfg.probe_sample_steps,
            progress=progress,
            desc=f"probe {suite.name} ({j + 1}/{len(seeds)})",
        )
        info["curves"].append(curve)
        diverged = bool(curve) and not math.isfinite(curve[-1])
        if diverged:
            res.note(f"{where} prober seed {j}: probe training diverged (non-finite loss)")
        heads.append(None if diverged else head)
    return heads


def _score(
    suite: ProbeSuite,
    split: str,
    pred: np.ndarray | None,
    y: np.ndarray,
    dims: list[int],
    boot: EpisodeBootstrap | None = None,
) -> tuple[Scores, dict[str, Any]]:
    """One head's metrics on one split from its predictions (NaN when there are none); R2 gets
    its interval from ``boot``'s resamples."""
    if suite.metric == "mse_px2":
        scored = mse_px2(pred, y) if pred is not None else {"value": math.nan}
        return {f"probe/{split}": (float(scored["value"]), False)}, scored
    scores: Scores = {}
    info: dict[str, Any] = {}
    lo = 0
    for target, k in zip(suite.targets, dims, strict=True):
        r2, mse, r2_lo, r2_hi = (math.nan,) * 4
        if pred is not None:
            p, t = pred[..., lo : lo + k], y[..., lo : lo + k]
            r2, mse = r2_and_mse(p, t)
            if boot is not None:
                r2_lo, r2_hi = boot.r2_interval(p, t, r2)
        lo += k
        stem = f"probe/{split}/{target}" if len(suite.evals) > 1 else f"probe/{target}"
        scores[f"{stem}/r2"] = (r2, True)
        scores[f"{stem}/r2_lo"] = (r2_lo, True)
        scores[f"{stem}/r2_hi"] = (r2_hi, True)
        scores[f"{stem}/mse"] = (mse, False)
        info[target] = {"r2": r2, "r2_lo": r2_lo, "r2_hi": r2_hi, "mse": mse}
    return scores, info


def _mean_info(infos: list[Any]) -> Any:
    """The element-wise mean of equally shaped JSON-like details (numbers, lists, dicts)."""
    first = infos[0]
    if isinstance(first, dict):
        return {k: _mean_info([i[k] for i in infos]) for k in first}
    if isinstance(first, list):
        return [_mean_info(list(col)) for col in zip(*infos, strict=True)]
    return float(np.mean(infos))


def _spread(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _merge(runs: list[tuple[Scores, dict[str, Any]]], res: EvalResult) -> dict[str, Any]:
    """Add each metric's mean over seeds (and, with several seeds, its spread); merged details."""
    scores = [s for s, _ in runs]
    failed = [info for s, info in runs if any(math.isnan(v) for v, _ in s.values())]
    info = failed[0] if failed else _mean_info([info for _, info in runs])
    if len(runs) > 1:
        info["seed_values"] = {key: [s[key][0] for s in scores] for key in scores[0]}
        info["seed_std"] = {key: _spread(v) for key, v in info["seed_values"].items()}
    for key, (_, hib) in scores[0].items():
        res.add(key, float(np.mean([s[key][0] for s in scores])), higher_is_better=hib)
        if len(runs) > 1:
            spread = spread_of(key)
            assert spread is not None  # probe suites name their metrics probe/...
            res.add(spread, info["seed_std"][key], higher_is_better=False)
    return info


def run_suite(
    suite: ProbeSuite,
    cache: LatentCache,
    cfg: EvalConfig,
    seed: int,
    device: torch.device,
    progress: bool,
    res: EvalResult,
) -> None:
    """Fit the suite's probe heads on its train split and score them on every eval split."""
    where = f"probe suite {suite.name!r}"
    mlp = suite.head == "mlp"
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
    y_norm = (y_train - mean) / std
    heads = _fit_heads(suite, train, y_norm, cfg, seed, device, progress, res, info)
    for split, windows in suite.evals.items():
        ev = cache.get(windows, suite.mode, split)
        y = ev.stacked_targets(suite.targets, f"{where} (split {split!r})")
        n = len(ev.z)
        m = scored_windows(n, cfg.probe_batch_size) if mlp else n  # the course drops the rest
        z, y = ev.z[:m], y[:m]
        finite = bool(torch.isfinite(z).all())
        if not finite and any(h is not None for h in heads):
            res.note(
                f"{where}: latents of split {split!r} contain {int((~torch.isfinite(z)).sum())} "
                "non-finite values; its metrics are NaN"
            )
        boot = None
        if suite.metric == "r2":
            groups, kind = window_groups(windows, m)
            boot = EpisodeBootstrap(groups)
        runs = []
        for head in heads:
            pred = None
            if head is not None and finite:
                pred = predict(head, z, device).numpy() * std + mean  # (m, T, K)
            runs.append(_score(suite, split, pred, y, dims, boot))
        info["splits"][split] = {"windows": n, "scored_windows": m, **_merge(runs, res)}
        if boot is not None:
            info["splits"][split]["bootstrap"] = {"groups": kind, **boot.describe()}
        if suite.metric == "mse_px2":
            chance = chance_mse(y_train, y)
            res.add(f"{CHANCE_PREFIX}{split}", chance, higher_is_better=False)
            info["splits"][split]["chance"] = chance
