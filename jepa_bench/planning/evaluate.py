"""Planning evaluation: a world model plans in latent space on a task's fixed episodes.

Three policies play the same episodes (the task's ``PlanningSuite.episodes``), each for
``max_steps`` steps: ``model`` (receding-horizon planning on the model's latents with
``PlanConfig.planner``), ``random`` (exploration-like random actions, the floor) and ``oracle``
(the same planner on the true dynamics and true cost-to-go, the ceiling). Eval seed ``k`` of
``PlanConfig.seeds`` plays the episode set ``episode_seed + k`` with planner noise from
``(seed, k)``; the numbers pool all seeds.

Per policy and case (``plan/<case>/<name>`` for the model, ``plan/<policy>/<case>/<name>`` for the
baselines): ``success`` (came within ``radius`` px, PLDM's 1.41) with Wilson 95% bounds
``success_lo`` / ``success_hi``, the same at ``loose_radius`` (``success_loose...``, 4.6 px),
``final_dist`` and ``progress``; for the model also ``success_final`` (within the radius at the
last step) and ``steps_to_success`` (``_loose``). ``plan/time_per_call_ms``: median wall time of
one planning decision (a batched call's time over its episodes). See docs/planning.md.

Planning runs on one intra-op thread whatever the process uses: its operations are small, so
more threads gain little and, on a machine whose other cores are busy, cost up to 40x (threads
waiting at every operation's barrier); and one thread makes the results independent of the
thread count (oneDNN convolutions round differently with it). On a CPU the cases (case x eval
seed) play at once in threads, one per usable core (``plan_workers``), each on one intra-op
thread: the same numbers as one case after another, in about half the time on 2 cores.
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
from jepa_bench.planning.latent import LatentPlanner, one_thread
from jepa_bench.planning.planners import make_planner
from jepa_bench.planning.play import (
    Clock,
    NonFiniteLatents,
    PlanningTooSlow,
    generators_for,
    oracle_planner,
    play_case,
    play_random,
)
from jepa_bench.planning.stats import summarise
from jepa_bench.record.hardware import hardware_info
from jepa_bench.workers import resolve_workers, thread_map

_RATES = ("success", "success_lo", "success_hi", "success_loose", "success_loose_lo",
          "success_loose_hi")  # fmt: skip
BASELINE_KEYS = {**dict.fromkeys(_RATES, True), "final_dist": False, "progress": True}
MODEL_KEYS = {
    **BASELINE_KEYS,
    "success_final": True,
    "steps_to_success": False,
    "steps_to_success_loose": False,
}


def _episode_rows(eps: Episodes, dists: np.ndarray, radius: float) -> list[dict[str, Any]]:
    reached = dists[:, 1:] <= radius
    return [
        {
            "start": eps.starts[i].tolist(),
            "goal": eps.goals[i].tolist(),
            "layout": eps.layouts[i].tolist(),
            "final_dist": float(dists[i, -1]),
            "min_dist": float(dists[i].min()),
            "reached_at": int(np.argmax(reached[i]) + 1) if reached[i].any() else None,
        }
        for i in range(len(eps))
    ]


def _call_stats(clock: Clock | None) -> dict[str, float]:
    if clock is None or not clock.times:
        return {"median_ms": math.nan, "call_median_ms": math.nan, "calls": 0, "episodes": 0}
    per = np.asarray(clock.times) / np.asarray(clock.batch) * 1e3  # ms per decision
    return {
        "median_ms": float(np.median(per)),
        "mean_ms": float(per.mean()),
        "p90_ms": float(np.percentile(per, 90)),
        "call_median_ms": float(np.median(clock.times) * 1e3),  # one batched call
        "calls": len(per),
        "episodes": int(np.median(clock.batch)),
    }


def _metrics(
    summary: dict[str, dict[str, dict[str, float]]],
) -> tuple[dict[str, float], dict[str, bool]]:
    metrics: dict[str, float] = {}
    hib: dict[str, bool] = {}
    for policy, cases in summary.items():
        keys = MODEL_KEYS if policy == "model" else BASELINE_KEYS
        for case, s in cases.items():
            prefix = f"plan/{case}" if policy == "model" else f"plan/{policy}/{case}"
            for key, higher in keys.items():
                metrics[f"{prefix}/{key}"], hib[f"{prefix}/{key}"] = s.get(key, math.nan), higher
    return metrics, hib


def plan_workers(device: torch.device, jobs: int) -> int:
    """Threads that play cases at once: one per usable core on a CPU, one on an accelerator."""
    return resolve_workers(None, jobs) if device.type == "cpu" else 1


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

    ``seed`` (the run's) drives the planner noise and the random baseline; the episodes depend
    only on ``episode_seed`` (default: the suite's) and the eval seed. A model producing
    non-finite latents gets NaN metrics and a message; when ``cfg.max_minutes`` would be exceeded
    no metrics are returned, only the message.
    """
    with one_thread():  # see the module docstring: thread-count free, and no oversubscription
        return _plan_eval(model, cfg, torch.device(device), seed, suite, baselines,
                          episode_seed, progress)  # fmt: skip


def _plan_eval(
    model: torch.nn.Module,
    cfg: PlanConfig,
    device: torch.device,
    seed: int,
    suite: PlanningSuite,
    baselines: bool,
    episode_seed: int | None,
    progress: bool,
) -> dict[str, Any]:
    start = time.perf_counter()
    episode_seed = suite.episode_seed if episode_seed is None else episode_seed
    sets = [suite.episodes(cfg.episodes, episode_seed + k) for k in range(cfg.seeds)]
    cases = list(sets[0])
    settings = {
        **asdict(cfg),
        "episode_seeds": [episode_seed + k for k in range(cfg.seeds)],
        "seed": seed,
        "oracle_planner": oracle_planner(cfg, suite).name,
    }
    details: dict[str, Any] = {"settings": settings, "messages": []}
    calls = cfg.seeds * len(cases) * math.ceil(cfg.max_steps / cfg.replan_every)
    clock = Clock(calls, cfg.max_minutes, progress)
    planner = LatentPlanner(
        model, make_planner(cfg, suite.max_action_norm), suite.action_dim, cfg.objective, device
    )
    played: dict[str, dict[str, list[np.ndarray]]] = {"model": {c: [] for c in cases}}
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    jobs = [(k, ci, case, eps) for k, per_case in enumerate(sets)
            for ci, (case, eps) in enumerate(per_case.items())]  # fmt: skip
    workers = plan_workers(device, len(jobs))

    def model_job(job: tuple[int, int, str, Episodes]) -> np.ndarray:
        k, ci, _, eps = job
        gens = generators_for(seed, k, ci, len(eps), device)
        return play_case(eps, suite, cfg, gens, planner, clock)

    try:
        for (_, _, case, _), d in zip(jobs, thread_map(model_job, jobs, workers), strict=True):
            played["model"][case].append(d)
    except NonFiniteLatents as e:
        played["model"] = {}
        details["messages"].append(f"planning with the model failed: {e}; its metrics are NaN")
    except PlanningTooSlow as e:
        details["messages"].append(str(e))
        details["seconds"] = time.perf_counter() - start
        return {"metrics": {}, "higher_is_better": {}, "details": details}
    finally:
        clock.bar.close()
        for m, training in modes:
            m.training = training

    oracle_clock = Clock(calls, None)

    def oracle_job(job: tuple[int, int, str, Episodes]) -> np.ndarray:
        k, ci, _, eps = job
        gens = generators_for(seed, k, ci, len(eps), torch.device("cpu"))
        return play_case(eps, suite, cfg, gens, clock=oracle_clock)

    if baselines:
        played["random"], played["oracle"] = {c: [] for c in cases}, {c: [] for c in cases}
        oracle = thread_map(oracle_job, jobs, plan_workers(torch.device("cpu"), len(jobs)))
        for (k, ci, case, eps), d in zip(jobs, oracle, strict=True):
            rng = np.random.default_rng(np.random.SeedSequence([seed, k, 1000 + ci]))
            played["random"][case].append(play_random(cfg, eps, rng, suite))
            played["oracle"][case].append(d)

    summary: dict[str, dict[str, dict[str, float]]] = {}
    per_seed: dict[str, dict[str, list[float]]] = {}
    episodes: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for policy in ("model", "random", "oracle"):
        if policy not in played:
            continue
        for case in cases:
            runs = played[policy].get(case)
            if not runs:  # the model failed: NaN everywhere
                summary.setdefault(policy, {})[case] = dict.fromkeys(MODEL_KEYS, math.nan)
                continue
            summary.setdefault(policy, {})[case] = summarise(
                np.concatenate(runs), cfg.radius, cfg.loose_radius
            )
            per_seed.setdefault(policy, {})[case] = [
                summarise(d, cfg.radius, cfg.loose_radius)["success"] for d in runs
            ]
            episodes.setdefault(policy, {})[case] = [
                row
                for k, d in enumerate(runs)
                for row in _episode_rows(sets[k][case], d, cfg.radius)
            ]
    metrics, hib = _metrics(summary)
    timing = {"model": _call_stats(clock)}
    if baselines:
        timing["oracle"] = _call_stats(oracle_clock)
    for policy, stats in timing.items():
        key = "plan/time_per_call_ms" if policy == "model" else f"plan/{policy}/time_per_call_ms"
        metrics[key], hib[key] = stats["median_ms"], False
    details.update(
        radius_px=cfg.radius,
        loose_radius_px=cfg.loose_radius,
        summary=summary,
        success_per_seed=per_seed,
        call_time=timing,
        hardware=hardware_info(device),
        episodes=episodes,
        seconds=time.perf_counter() - start,
    )
    return {"metrics": metrics, "higher_is_better": hib, "details": details}
