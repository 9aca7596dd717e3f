"""What the reference policies of wall_door planning need: the true cost and random actions.

The oracle planner runs the same planner as a world model but scores candidates with the true
dynamics (``physics.simulate``, collisions included) and the true cost-to-go: the shortest path
length to the goal, through the door when the goal is in the other room. It bounds what a perfect
world model could reach with that planner. The random baseline draws actions like the
exploration data (heading random walk, step lengths in [0.2, 1.8]).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from jepa_bench.data.base import CostFn
from jepa_bench.data.wall_door import actions as act
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.env import WallDoorEnv
from jepa_bench.data.wall_door.episodes import path_length


def true_cost(
    position: np.ndarray, goal: np.ndarray, layout: np.ndarray, objective: str = "final"
) -> CostFn:
    """Cost (B, N) float64 of candidates (B, N, H, 2): squared shortest-path distance to the
    goal under the physics (at the last step, or the mean or min over the horizon), for B agents
    at ``position`` (B, 2) with ``goal`` (B, 2) in ``layout`` (B, 2); a single agent's (2,)
    arrays are one row."""
    pos = np.asarray(position, np.float32).reshape(-1, 2)
    lay = np.asarray(layout, np.int16).reshape(-1, 2)
    g = np.asarray(goal, np.float64).reshape(-1, 2)

    def cost(cand: Tensor) -> Tensor:
        a = cand.detach().cpu().numpy().astype(np.float32)  # (B, N, H, 2)
        b, n, h = a.shape[:3]
        if b != len(pos):
            raise ValueError(f"candidates for {b} agents, but the cost has {len(pos)}")
        lays = np.repeat(lay, n, axis=0)  # (BN, 2)
        locs = ph.simulate(np.repeat(pos, n, axis=0), a.reshape(b * n, h, 2), lays)[:, 1:]
        goals = np.repeat(g, n, axis=0)  # (BN, 2)
        if objective == "final":
            d2 = path_length(locs[:, -1], goals, lays) ** 2  # (BN,)
        else:
            flat = locs.reshape(b * n * h, 2)
            d = path_length(flat, np.repeat(goals, h, 0), np.repeat(lays, h, 0))
            d2 = (d**2).reshape(b * n, h)
            d2 = d2.min(1) if objective == "min" else d2.mean(1)
        return torch.from_numpy(d2.reshape(b, n)).to(cand.device)

    return cost


def oracle_cost(env: WallDoorEnv, objective: str = "final") -> CostFn:
    """``true_cost`` from the current state of every agent of ``env``."""
    return true_cost(env.position, env.goal, env.layouts, objective)


def random_actions(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """Exploration-like actions (n, steps, 2): heading random walk, truncated-normal lengths."""
    theta = act.heading_walk(rng, rng.uniform(0.0, 2 * np.pi, size=n), steps)  # (n, steps)
    return act.polar(theta, act.step_lengths(rng, (n, steps))).astype(np.float32)
