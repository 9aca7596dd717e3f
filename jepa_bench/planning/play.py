"""Playing episodes: the episode loop and the three policies (model planner, random, oracle).

A policy is a ``Chooser``: given the environment, the frames observed and the actions executed so
far, it returns the next actions to execute (k, A). Planners return the first ``replan_every``
actions of their plan (receding horizon) and warm-start the next call from the rest of it. The
environment, the episodes and the oracle's cost come from the task's ``PlanningSuite``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from jepa_bench.config import PlanConfig
from jepa_bench.data.base import Episodes, PlanningEnv, PlanningSuite
from jepa_bench.planning.cem import CEMSettings, cem
from jepa_bench.planning.latent import LatentPlanner

Chooser = Callable[[PlanningEnv, list[np.ndarray], list[np.ndarray]], np.ndarray]


class NonFiniteLatents(RuntimeError):
    """The model produced NaN or infinite latents or planning costs."""


def cem_settings(cfg: PlanConfig, suite: PlanningSuite) -> CEMSettings:
    """The CEM part of a planning config, bounded by the task's longest action."""
    return CEMSettings(
        cfg.samples, cfg.iterations, cfg.topk, cfg.horizon, max_norm=suite.max_action_norm
    )


def run_episode(env: PlanningEnv, choose: Chooser, max_steps: int) -> tuple[np.ndarray, list]:
    """Play one reset episode: distances (max_steps + 1,) to the goal, seconds per choose call."""
    frames, dist = [env.observe()[0]], [env.distance()[0]]
    done: list[np.ndarray] = []
    times: list[float] = []
    while len(done) < max_steps:
        t0 = time.perf_counter()
        chunk = np.asarray(choose(env, frames, done), np.float32)
        times.append(time.perf_counter() - t0)
        if len(chunk) == 0:
            raise RuntimeError("a policy returned no actions")
        for a in chunk[: max_steps - len(done)]:
            obs, _ = env.step(a[None])
            frames.append(obs[0])
            done.append(a)
            dist.append(env.distance()[0])
    return np.asarray(dist), times


def _warm(state: dict[str, Any], horizon: int) -> torch.Tensor | None:
    """The previous plan without its executed steps, zero-padded (or cut) to ``horizon``."""
    if state.get("plan") is None:
        return None
    rest = state["plan"][state["used"] :][:horizon]
    return torch.cat([rest, torch.zeros(horizon - len(rest), rest.shape[1])], 0)


def model_chooser(
    planner: LatentPlanner, goal_obs: np.ndarray, cfg: PlanConfig, generator: torch.Generator
) -> Chooser:
    """Receding-horizon CEM on the model's latents toward the encoded ``goal_obs`` (C, H, W)."""
    z_goal = planner.encode(torch.from_numpy(goal_obs[None]))[0]  # (D,)
    if not torch.isfinite(z_goal).all():
        raise NonFiniteLatents("the goal observation encodes to non-finite latents")
    state: dict[str, Any] = {}

    def choose(env: PlanningEnv, frames: list, done: list) -> np.ndarray:
        k = min(planner.context, len(frames))
        z_ctx = planner.encode(torch.from_numpy(np.stack(frames[-k:])))  # (K, D)
        if not torch.isfinite(z_ctx).all():
            raise NonFiniteLatents(f"step {len(done)}: the observation encodes to NaN/inf")
        a_ctx = torch.from_numpy(
            np.asarray(done[len(done) - k + 1 :], np.float32).reshape(-1, planner.action_dim)
        )
        horizon = min(cfg.horizon, cfg.max_steps - len(done))
        res = planner.plan(z_ctx, a_ctx, z_goal, horizon, _warm(state, horizon), generator)
        if not np.isfinite(res.cost):
            raise NonFiniteLatents(f"step {len(done)}: every candidate's cost is NaN/inf")
        state["plan"], state["used"] = res.actions.cpu(), cfg.replan_every
        return res.actions[: cfg.replan_every].cpu().numpy()

    return choose


def oracle_chooser(
    suite: PlanningSuite, settings: CEMSettings, cfg: PlanConfig, generator: torch.Generator
) -> Chooser:
    """Receding-horizon CEM on the task's true cost (the model planner's schedule)."""
    state: dict[str, Any] = {}

    def choose(env: PlanningEnv, frames: list, done: list) -> np.ndarray:
        horizon = min(cfg.horizon, cfg.max_steps - len(done))
        cost = suite.oracle_cost(env, cfg.objective)
        res = cem(cost, settings, suite.action_dim, horizon, _warm(state, horizon), generator)
        state["plan"], state["used"] = res.actions, cfg.replan_every
        return res.actions[: cfg.replan_every].numpy()

    return choose


def generator_for(seed: int, case: int, episode: int, device: torch.device) -> torch.Generator:
    """The CEM noise stream of one episode."""
    g = torch.Generator(device=device)
    g.manual_seed(int(np.random.SeedSequence([seed, case, episode]).generate_state(1)[0]))
    return g


def play_model(
    model: torch.nn.Module,
    cfg: PlanConfig,
    sets: dict[str, Episodes],
    device: torch.device,
    seed: int,
    suite: PlanningSuite,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], list[float], str | None]:
    """Distances per case (E, T+1), seconds per planning call, and why play stopped early.

    Stops (returning what it has) once the episodes played so far project past
    ``cfg.max_minutes``.
    """
    planner = LatentPlanner(
        model, cem_settings(cfg, suite), suite.action_dim, cfg.objective, device
    )
    total = sum(len(e) for e in sets.values())
    out: dict[str, np.ndarray] = {}
    times: list[float] = []
    env, t0, played = suite.make_env(), time.perf_counter(), 0
    with tqdm(total=total, desc="planning", unit="episode", disable=not progress) as bar:
        for ci, (case, eps) in enumerate(sets.items()):
            rows = []
            for i in range(len(eps)):
                env.reset(eps.starts[i], eps.goals[i], eps.layouts[i])
                gen = generator_for(seed, ci, i, device)
                choose = model_chooser(planner, env.goal_observation()[0], cfg, gen)
                d, t = run_episode(env, choose, cfg.max_steps)
                rows.append(d)
                times += t
                played += 1
                bar.update(1)
                projected = (time.perf_counter() - t0) / played * total
                if cfg.max_minutes is not None and projected > cfg.max_minutes * 60:
                    return (
                        out,
                        times,
                        (
                            f"planning stopped after {played} of {total} episodes: projected "
                            f"{projected / 60:.1f} min exceeds max_minutes={cfg.max_minutes}"
                        ),
                    )
            out[case] = np.stack(rows)
    return out, times, None


def play_random(
    cfg: PlanConfig, sets: dict[str, Episodes], seed: int, suite: PlanningSuite
) -> dict[str, np.ndarray]:
    """Distances per case (E, T+1) under exploration-like random actions."""
    out = {}
    for ci, (case, eps) in enumerate(sets.items()):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1000 + ci]))
        acts = suite.random_actions(rng, len(eps), cfg.max_steps)  # (E, T, A)
        env = suite.make_env()
        env.reset(eps.starts, eps.goals, eps.layouts)
        dist = [env.distance()]
        for t in range(cfg.max_steps):
            env.step(acts[:, t])
            dist.append(env.distance())
        out[case] = np.stack(dist, 1)
    return out


def play_oracle(
    cfg: PlanConfig, sets: dict[str, Episodes], seed: int, suite: PlanningSuite
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Distances per case (E, T+1) and seconds per call of the true-dynamics CEM planner."""
    settings = cem_settings(cfg, suite)
    out, times, env = {}, [], suite.make_env()
    for ci, (case, eps) in enumerate(sets.items()):
        rows = []
        for i in range(len(eps)):
            env.reset(eps.starts[i], eps.goals[i], eps.layouts[i])
            gen = generator_for(seed, ci, i, torch.device("cpu"))
            d, t = run_episode(env, oracle_chooser(suite, settings, cfg, gen), cfg.max_steps)
            rows.append(d)
            times += t
        out[case] = np.stack(rows)
    return out, times
