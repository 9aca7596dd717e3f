"""Playing episodes, all episodes of a case at once: the loop and the three policies.

A policy is a ``Chooser``: given the latest frames observed (a list of (B, C, H, W)) and the actions
executed so far (a list of (B, A)), it returns the next actions (B, k, A) of every episode.
Planners return the first ``replan_every`` actions of their plans (receding horizon) and
warm-start the next call from the rest. One batched planner call serves every episode of the
case; each episode draws its planner noise from its own generator, so its result does not
depend on the others. The environment, the episodes and the oracle's cost come from the task's
``PlanningSuite``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from jepa_bench.config import PlanConfig
from jepa_bench.data.base import Episodes, PlanningEnv, PlanningSuite
from jepa_bench.planning.latent import LatentPlanner
from jepa_bench.planning.planners import Planner, PlanResult, make_planner
from jepa_bench.planning.residual import PastCall, offsets, window_errors

Chooser = Callable[[PlanningEnv, list[np.ndarray], list[np.ndarray]], np.ndarray]


class NonFiniteLatents(RuntimeError):
    """The model produced NaN or infinite latents or planning costs."""


class Clock:
    """Seconds per planning call, and the ``max_minutes`` projection over ``total`` calls."""

    def __init__(self, total: int, max_minutes: float | None, progress: bool = False) -> None:
        self.total, self.max_minutes = total, max_minutes
        self.start, self.calls = time.perf_counter(), 0
        self.times: list[float] = []  # seconds per call, each serving a batch of episodes
        self.batch: list[int] = []  # episodes per call
        self.bar = tqdm(total=total, desc="planning", unit="call", disable=not progress)
        self._lock = threading.Lock()  # cases may play in parallel threads

    def record(self, seconds: float, episodes: int) -> None:
        with self._lock:
            self.times.append(seconds)
            self.batch.append(episodes)
            self.calls += 1
            calls = self.calls
            self.bar.update(1)
        if self.max_minutes is None or calls < min(self.total, 4):  # past the warm-up
            return
        projected = (time.perf_counter() - self.start) / calls * self.total
        if projected > self.max_minutes * 60:
            raise PlanningTooSlow(
                f"planning stopped after {calls} of {self.total} planning calls: projected "
                f"{projected / 60:.1f} min exceeds max_minutes={self.max_minutes}"
            )


class PlanningTooSlow(RuntimeError):
    """The planning calls made so far project past ``PlanConfig.max_minutes``."""


def run_batch(
    env: PlanningEnv,
    choose: Chooser,
    max_steps: int,
    clock: Clock | None = None,
    keep: int | None = None,
) -> np.ndarray:
    """Play the reset episodes of ``env`` for ``max_steps``: distances (B, max_steps + 1).

    ``choose`` sees the last ``keep`` frames observed (all when None): a model reads only its
    history, and 200 steps of 100 episodes' frames would hold 680 MB.
    """
    frames, dist = [env.observe()], [env.distance()]
    done: list[np.ndarray] = []
    while len(done) < max_steps:
        t0 = time.perf_counter()
        chunk = np.asarray(choose(env, frames, done), np.float32)  # (B, k, A)
        if clock is not None:
            clock.record(time.perf_counter() - t0, chunk.shape[0])
        if chunk.ndim != 3 or chunk.shape[1] == 0:
            raise RuntimeError("a policy returned no actions")
        for t in range(min(chunk.shape[1], max_steps - len(done))):
            obs, _ = env.step(chunk[:, t])
            frames.append(obs)
            if keep is not None and len(frames) > keep:
                del frames[0]
            done.append(chunk[:, t])
            dist.append(env.distance())
    return np.stack(dist, 1)


def _warm(state: dict[str, Any], b: int, horizon: int, action_dim: int) -> torch.Tensor:
    """The previous plans without their executed steps, zero-padded (or cut) to ``horizon``."""
    if state.get("plan") is None:
        return torch.zeros(b, horizon, action_dim)
    rest = state["plan"][:, state["used"] :][:, :horizon]
    pad = torch.zeros(b, horizon - rest.shape[1], action_dim)
    return torch.cat([rest, pad], 1)


def _receding(cfg: PlanConfig, b: int, a: int, solve: Callable[..., PlanResult]) -> Chooser:
    """A chooser that calls ``solve(env, frames, done, init, horizon)`` every ``replan_every``."""
    state: dict[str, Any] = {}

    def choose(env: PlanningEnv, frames: list, done: list) -> np.ndarray:
        horizon = min(cfg.horizon, cfg.max_steps - len(done))
        res = solve(env, frames, done, _warm(state, b, horizon, a), horizon)
        if not torch.isfinite(res.cost).all():
            raise NonFiniteLatents(f"step {len(done)}: every candidate's cost is NaN/inf")
        state["plan"], state["used"] = res.actions.detach().cpu(), cfg.replan_every
        return res.actions[:, : cfg.replan_every].detach().cpu().numpy()

    return choose


def model_chooser(
    planner: LatentPlanner,
    goal_obs: np.ndarray,
    cfg: PlanConfig,
    generators: Sequence[torch.Generator],
) -> Chooser:
    """Receding-horizon planning on the model's latents toward encoded goals (B, C, H, W)."""
    z_goal = planner.encode(torch.from_numpy(goal_obs[:, None]))[:, 0]  # (B, D)
    if not torch.isfinite(z_goal).all():
        raise NonFiniteLatents("a goal observation encodes to non-finite latents")
    b, a = len(goal_obs), planner.action_dim
    calls: list[PastCall] = []

    def solve(env: PlanningEnv, frames: list, done: list, init: torch.Tensor, h: int) -> Any:
        k = min(planner.context, len(frames))
        z_ctx = planner.encode(torch.from_numpy(np.stack(frames[-k:], 1)))  # (B, K, D)
        if not torch.isfinite(z_ctx).all():
            raise NonFiniteLatents(f"step {len(done)}: an observation encodes to NaN/inf")
        past = done[len(done) - k + 1 :] if k > 1 else []
        a_ctx = torch.from_numpy(np.asarray(past, np.float32).reshape(k - 1, b, a)).transpose(0, 1)
        offset = None
        if cfg.residual and calls:
            executed = torch.from_numpy(np.stack(done, 1)).to(planner.device)  # (B, T, A)
            with torch.no_grad():
                errors = window_errors(
                    planner.model, calls, z_ctx[:, -1], executed, planner.history, cfg.horizon
                )
            offset = offsets(errors, h, z_ctx[:, -1])
        calls.append(PastCall(len(done), z_ctx, a_ctx.to(planner.device)))
        del calls[: -cfg.residual_windows]
        return planner.plan(z_ctx, a_ctx, z_goal, init, generators, offset)

    return _receding(cfg, b, a, solve)


def oracle_chooser(
    suite: PlanningSuite, planner: Planner, cfg: PlanConfig, generators: Sequence[torch.Generator]
) -> Chooser:
    """Receding-horizon planning on the task's true cost (the model planner's schedule)."""

    def solve(env: PlanningEnv, frames: list, done: list, init: torch.Tensor, h: int) -> Any:
        return planner.solve(suite.oracle_cost(env, cfg.objective), init, generators)

    return _receding(cfg, len(generators), suite.action_dim, solve)


def generators_for(
    seed: int, eval_seed: int, case: int, n: int, device: torch.device
) -> list[torch.Generator]:
    """The planner noise streams of episodes 0..n-1 of one case under one eval seed."""
    out = []
    for i in range(n):
        g = torch.Generator(device=device)
        state = np.random.SeedSequence([seed, eval_seed, case, i]).generate_state(1)[0]
        out.append(g.manual_seed(int(state)))
    return out


def oracle_planner(cfg: PlanConfig, suite: PlanningSuite) -> Planner:
    """The model's planner on the true cost; CEM when that planner needs gradients."""
    name = "cem" if cfg.planner == "gradient" else cfg.planner
    return make_planner(cfg, suite.max_action_norm, name)


def play_case(
    eps: Episodes,
    suite: PlanningSuite,
    cfg: PlanConfig,
    generators: Sequence[torch.Generator],
    planner: LatentPlanner | None = None,
    clock: Clock | None = None,
) -> np.ndarray:
    """Distances (E, T+1) of one case's episodes planned by ``planner`` (the oracle if None)."""
    env = suite.make_env()
    env.reset(eps.starts, eps.goals, eps.layouts)
    if planner is not None:
        choose = model_chooser(planner, env.goal_observation(), cfg, generators)
        keep = planner.context
    else:
        choose = oracle_chooser(suite, oracle_planner(cfg, suite), cfg, generators)
        keep = 1
    return run_batch(env, choose, cfg.max_steps, clock, keep)


def play_random(
    cfg: PlanConfig, eps: Episodes, rng: np.random.Generator, suite: PlanningSuite
) -> np.ndarray:
    """Distances (E, T+1) of one case's episodes under exploration-like random actions."""
    acts = suite.random_actions(rng, len(eps), cfg.max_steps)  # (E, T, A)
    env = suite.make_env()
    env.reset(eps.starts, eps.goals, eps.layouts)
    return run_batch(env, lambda env, frames, done: acts[:, len(done) :], cfg.max_steps, keep=1)
