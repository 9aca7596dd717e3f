"""The shared evaluator: probes, multi-step latent error and collapse statistics.

It knows models only through ``WorldModel`` (``encode`` / ``rollout``) and tasks only through
``Task.probe_suites()``. Metric keys:

- ``probe/<split>`` (mse_px2 suites, px^2, lower is better);
- ``probe/<target>/r2`` and ``probe/<target>/mse`` (r2 suites; ``probe/<split>/<target>/...``
  when the suite has several eval splits), with ``probe/<target>/r2_lo`` and ``.../r2_hi``, the
  95% bootstrap interval of the R2 over the split's episodes (``jepa_bench.evaluate.ridge_cv``);
- ``chance/<split>`` (mse_px2 suites, px^2): the constant predictor's error on the split (the
  probe-train split's mean target; ``suites.chance_mse``), for the chance-normalised score;
- ``probe_seed_std/<rest>`` beside each ``probe/<rest>`` of an MLP head: the spread over
  ``EvalConfig.probe_seeds`` prober seeds (``jepa_bench.evaluate.suites``), when there are two or
  more;
- ``latent_error/{mean,final}`` and ``latent_error_rel/{mean,final}`` on the first eval split of
  the first suite;
- ``collapse/{std_min,std_mean,effective_rank,top_pc_share,collapsed}`` on that split's encoded
  latents;
- ``plan/...`` (``jepa_bench.planning.evaluate``) when the task offers planning (``planning()``
  returns a suite) and ``EvalConfig.planning`` is on (every budget but smoke).

MLP probe heads are trained and scored as the DL25SP course evaluator does
(``jepa_bench.evaluate.mlp_probe``, docs/probe_protocol.md); that protocol's version is
``EVAL_PROTOCOL``, which every record carries so that numbers of different protocols never share a
table. A model whose outputs contain NaN gets NaN metrics and a message in ``details["messages"]``.
``EvalConfig.max_eval_windows`` limits the split of the latent error and collapse statistics to
its first windows (the encoder pass over every frame there is the costly part); probe splits are
never cut short by it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from jepa_bench.config import EvalConfig
from jepa_bench.data.base import PlanningSuite, ProbeSuite, Task, planning_suite
from jepa_bench.evaluate.collapse import collapse_stats, is_collapsed
from jepa_bench.evaluate.latent_error import latent_error
from jepa_bench.evaluate.probe import LatentCache
from jepa_bench.evaluate.result import EvalResult
from jepa_bench.evaluate.suites import check_suites, run_suite
from jepa_bench.models.protocol import WorldModel
from jepa_bench.planning.evaluate import plan_eval

#: The version of the evaluation protocol. "eval-v1" (records without the field): MLP probes at
#: batch 256 with every window scored; "eval-v2": the course's probe protocol, averaged over
#: prober seeds; "eval-v3": linear (robot) probes choose each target's ridge strength by
#: episode-grouped cross-validation (it was fixed at 1e-6) and carry bootstrap intervals of R2 (the
#: location probe is unchanged); "eval-v4": an MLP prober seed draws its initialisation, data order
#: and sampled time steps exactly as the course evaluator does after ``torch.manual_seed(seed)``
#: (same distribution as eval-v3, other draws). Bump it whenever a change makes old metric values
#: incomparable with new ones.
EVAL_PROTOCOL = "eval-v4"


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
        eval_protocol=EVAL_PROTOCOL,
        probe_epochs=cfg.probe_epochs,
        probe_seeds=cfg.probe_seeds,
        max_eval_windows=cfg.max_eval_windows,
        messages=[],
    )
    with frozen(model):
        cache = LatentCache(model, device, progress=progress)
        for i, suite in enumerate(suites):
            suite_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
            run_suite(suite, cache, cfg, suite_seed, device, progress, res)
        _dynamics(suites[0], cache, cfg, res)
        planning = planning_suite(task) if cfg.planning else None
        if planning is not None:
            _planning(model, planning, cfg, device, seed, progress, res)
    res.seconds = time.perf_counter() - start
    return res
