"""Playing episodes: the episode loop and the three policies (model planner, random, oracle).

A policy is a ``Chooser``: given the environment, the frames observed and the actions executed so
far, it returns the next actions to execute (k, 2). Planners return the first ``replan_every``
actions of their plan (receding horizon) and warm-start the next call from the rest of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from jepa_bench.config import PlanConfig
from jepa_bench.planning.cem import CEMSettings, LatentPlanner
from jepa_bench.planning.env import WallDoorEnv
from jepa_bench.planning.episodes import Episodes
from jepa_bench.planning.oracle import OraclePlanner, random_actions

Chooser = Callable[[WallDoorEnv, list[np.ndarray], list[np.ndarray]], np.ndarray]
EnvFactory = Callable[[], WallDoorEnv]


class NonFiniteLatents(RuntimeError):
    """The model produced NaN or infinite latents or planning costs."""


def cem_settings(cfg: PlanConfig) -> CEMSettings:
    """The CEM part of a planning config."""
    return CEMSettings(cfg.samples, cfg.iterations, cfg.topk, cfg.horizon)


def run_episode(env: WallDoorEnv, choose: Chooser, max_steps: int) -> tuple[np.ndarray, list]:
    """Play one reset episode: distances (max_steps + 1,) to the goal, seconds per choose call."""
    frames, done, dist, times = [env.observe()[0]], [], [env.distance()[0]], []
    while len(done) < max_steps:
        t0 = time.perf_counter()
        chunk = np.asarray(choose(env, frames, done), np.float32).reshape(-1, 2)
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

    def choose(env: WallDoorEnv, frames: list, done: list) -> np.ndarray:
        k = min(planner.context, len(frames))
        z_ctx = planner.encode(torch.from_numpy(np.stack(frames[-k:])))  # (K, D)
        if not torch.isfinite(z_ctx).all():
            raise NonFiniteLatents(f"step {len(done)}: the observation encodes to NaN/inf")
        a_ctx = torch.from_numpy(np.asarray(done[len(done) - k + 1 :], np.float32).reshape(-1, 2))
        horizon = min(cfg.horizon, cfg.max_steps - len(done))
        res = planner.plan(z_ctx, a_ctx, z_goal, horizon, _warm(state, horizon), generator)
        if not np.isfinite(res.cost):
            raise NonFiniteLatents(f"step {len(done)}: every candidate's cost is NaN/inf")
        state["plan"], state["used"] = res.actions.cpu(), cfg.replan_every
        return res.actions[: cfg.replan_every].cpu().numpy()

    return choose


def oracle_chooser(oracle: OraclePlanner, cfg: PlanConfig, generator: torch.Generator) -> Chooser:
    """Receding-horizon CEM on the true dynamics (the model planner's schedule)."""
    state: dict[str, Any] = {}

    def choose(env: WallDoorEnv, frames: list, done: list) -> np.ndarray:
        horizon = min(cfg.horizon, cfg.max_steps - len(done))
        warm = _warm(state, horizon)
        res = oracle.plan(env.position[0], env.goal[0], env.layouts[0], horizon, warm, generator)
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
    progress: bool = False,
    env_factory: EnvFactory = WallDoorEnv,
) -> tuple[dict[str, np.ndarray], list[float], str | None]:
    """Distances per case (E, T+1), seconds per planning call, and why play stopped early.

    Stops (returning what it has) once the episodes played so far project past
    ``cfg.max_minutes``.
    """
    planner = LatentPlanner(model, cem_settings(cfg), cfg.objective, device)
    total = sum(len(e) for e in sets.values())
    out: dict[str, np.ndarray] = {}
    times: list[float] = []
    env, t0, played = env_factory(), time.perf_counter(), 0
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
    cfg: PlanConfig, sets: dict[str, Episodes], seed: int, env_factory: EnvFactory = WallDoorEnv
) -> dict[str, np.ndarray]:
    """Distances per case (E, T+1) under exploration-like random actions."""
    out = {}
    for ci, (case, eps) in enumerate(sets.items()):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1000 + ci]))
        acts = random_actions(rng, len(eps), cfg.max_steps)  # (E, T, 2)
        env = env_factory()
        env.reset(eps.starts, eps.goals, eps.layouts)
        dist = [env.distance()]
        for t in range(cfg.max_steps):
            env.step(acts[:, t])
            dist.append(env.distance())
        out[case] = np.stack(dist, 1)
    return out


def play_oracle(
    cfg: PlanConfig, sets: dict[str, Episodes], seed: int, env_factory: EnvFactory = WallDoorEnv
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Distances per case (E, T+1) and seconds per call of the true-dynamics CEM planner."""
    oracle = OraclePlanner(cem_settings(cfg), cfg.objective)
    out, times, env = {}, [], env_factory()
    for ci, (case, eps) in enumerate(sets.items()):
        rows = []
        for i in range(len(eps)):
            env.reset(eps.starts[i], eps.goals[i], eps.layouts[i])
            gen = generator_for(seed, ci, i, torch.device("cpu"))
            d, t = run_episode(env, oracle_chooser(oracle, cfg, gen), cfg.max_steps)
            rows.append(d)
            times += t
        out[case] = np.stack(rows)
    return out, times
