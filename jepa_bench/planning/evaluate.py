"""Planning evaluation: a world model plans with CEM in latent space on a task's fixed episodes.

Three policies play the same episodes (the task's ``PlanningSuite.episodes``), each for
``max_steps`` steps with no early stop:

- ``model``: receding-horizon CEM on the model's latents, replanning every ``replan_every``
  steps from the current observation;
- ``random``: exploration-like random actions (the floor);
- ``oracle``: the same CEM on the true dynamics and true cost-to-go (the ceiling).

Per policy and case: ``success`` (final position within ``radius`` px of the goal, PLDM's
criterion), ``success_loose`` (within ``loose_radius`` px), ``final_dist`` (px) and ``progress``
(mean initial minus final distance, px: 0 for an agent that stays put); for the model also
``steps_to_success`` (first step within the radius, over successful episodes; ``_loose``
likewise) and the median time per planning call. Keys: ``plan/<case>/<name>`` for the model,
``plan/<policy>/<case>/<name>`` for the baselines, ``plan/time_per_call_ms``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from jepa_bench.config import PlanConfig
from jepa_bench.data.base import Episodes, PlanningSuite
from jepa_bench.planning.play import NonFiniteLatents, play_model, play_oracle, play_random

HIGHER_IS_BETTER = {
    "success": True,
    "success_loose": True,
    "final_dist": False,
    "progress": True,
    "steps_to_success": False,
    "steps_to_success_loose": False,
}
MODEL_KEYS = tuple(HIGHER_IS_BETTER)
BASELINE_KEYS = ("success", "success_loose", "final_dist", "progress")


def summarise(dists: np.ndarray, cfg: PlanConfig) -> dict[str, float]:
    """Success rates, mean final distance and mean steps to success from distances (E, T+1)."""
    final = dists[:, -1]
    out = {
        "success": float(np.mean(final <= cfg.radius)),
        "success_loose": float(np.mean(final <= cfg.loose_radius)),
        "final_dist": float(np.mean(final)),
        "progress": float(np.mean(dists[:, 0] - final)),  # px closer than at the start
    }
    for key, r in (("steps_to_success", cfg.radius), ("steps_to_success_loose", cfg.loose_radius)):
        ok = final <= r
        first = np.argmax(dists <= r, axis=1)  # first step within r
        out[key] = float(np.mean(first[ok])) if ok.any() else math.nan
    out["reached_loose"] = float(np.mean(dists.min(axis=1) <= cfg.loose_radius))
    out["initial_dist"] = float(np.mean(dists[:, 0]))
    return out


def _episode_rows(eps: Episodes, dists: np.ndarray) -> list[dict[str, Any]]:
    return [
        {
            "start": eps.starts[i].tolist(),
            "goal": eps.goals[i].tolist(),
            "layout": eps.layouts[i].tolist(),
            "final_dist": float(dists[i, -1]),
            "min_dist": float(dists[i].min()),
        }
        for i in range(len(eps))
    ]


def _call_stats(times: list[float]) -> dict[str, float]:
    if not times:
        return {"median_ms": math.nan, "mean_ms": math.nan, "p90_ms": math.nan, "calls": 0}
    ms = np.asarray(times) * 1e3
    return {
        "median_ms": float(np.median(ms)),
        "mean_ms": float(ms.mean()),
        "p90_ms": float(np.percentile(ms, 90)),
        "calls": len(ms),
    }


def plan_eval(
    model: torch.nn.Module,
    cfg: PlanConfig,
    device: torch.device | str,
    seed: int,
    suite: PlanningSuite,
    *,
    baselines: bool = True,
    episode_seed: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Plan with ``model`` on the task's fixed episodes; returns ``{metrics, higher_is_better,
    details}``.

    ``seed`` drives the CEM samples and the random baseline; the episodes depend only on
    ``episode_seed`` (default: the suite's). A model producing non-finite latents gets NaN metrics
    and a message; when ``cfg.max_minutes`` would be exceeded no metrics are returned, only the
    message.
    """
    device = torch.device(device)
    start = time.perf_counter()
    episode_seed = suite.episode_seed if episode_seed is None else episode_seed
    sets = suite.episodes(cfg.episodes, episode_seed)
    settings = {**asdict(cfg), "episode_seed": episode_seed, "seed": seed}
    details: dict[str, Any] = {"settings": settings, "messages": []}
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        played, times, stopped = play_model(model, cfg, sets, device, seed, suite, progress)
    except NonFiniteLatents as e:
        played, times, stopped = {}, [], None
        details["messages"].append(f"planning with the model failed: {e}; its metrics are NaN")
    finally:
        for m, training in modes:
            m.training = training
    if stopped is not None:
        details["messages"].append(stopped)
        details["seconds"] = time.perf_counter() - start
        return {"metrics": {}, "higher_is_better": {}, "details": details}

    policies: dict[str, dict[str, np.ndarray]] = {"model": played}
    calls = {"model": _call_stats(times)}
    if baselines:
        policies["random"] = play_random(cfg, sets, seed, suite)
        policies["oracle"], oracle_times = play_oracle(cfg, sets, seed, suite)
        calls["oracle"] = _call_stats(oracle_times)

    metrics: dict[str, float] = {}
    hib: dict[str, bool] = {}
    summary: dict[str, dict[str, Any]] = {}
    episodes: dict[str, dict[str, Any]] = {}
    for policy, per_case in policies.items():
        keys = MODEL_KEYS if policy == "model" else BASELINE_KEYS
        for case, eps in sets.items():
            if case in per_case:
                summ = summarise(per_case[case], cfg)
                episodes.setdefault(policy, {})[case] = _episode_rows(eps, per_case[case])
            else:
                summ = {k: math.nan for k in MODEL_KEYS}
            summary.setdefault(policy, {})[case] = summ
            prefix = f"plan/{case}" if policy == "model" else f"plan/{policy}/{case}"
            for key in keys:
                metrics[f"{prefix}/{key}"] = summ[key]
                hib[f"{prefix}/{key}"] = HIGHER_IS_BETTER[key]
    for policy, stats in calls.items():
        key = "plan/time_per_call_ms" if policy == "model" else f"plan/{policy}/time_per_call_ms"
        metrics[key], hib[key] = stats["median_ms"], False
    details.update(
        radius_px=cfg.radius,
        loose_radius_px=cfg.loose_radius,
        summary=summary,
        call_time=calls,
        episodes=episodes,
        seconds=time.perf_counter() - start,
    )
    return {"metrics": metrics, "higher_is_better": hib, "details": details}
