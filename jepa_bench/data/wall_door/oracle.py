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
    """Cost of candidates (N, H, 2): squared shortest-path distance to ``goal`` under the physics.

    ``position``, ``goal`` and ``layout`` are (2,) arrays of one agent.
    """
    pos = np.asarray(position, np.float32).reshape(2)
    lay = np.asarray(layout, np.int16).reshape(1, 2)
    g = np.asarray(goal, np.float64).reshape(1, 2)

    def cost(cand: Tensor) -> Tensor:
        a = cand.detach().cpu().numpy().astype(np.float32)  # (N, H, 2)
        n, h = a.shape[:2]
        lays = np.repeat(lay, n, axis=0)
        locs = ph.simulate(np.repeat(pos[None], n, axis=0), a, lays)[:, 1:]  # (N, H, 2)
        if objective == "final":
            d = path_length(locs[:, -1], np.repeat(g, n, 0), lays)  # (N,)
        else:
            flat = locs.reshape(n * h, 2)
            d2 = path_length(flat, np.repeat(g, n * h, 0), np.repeat(lays, h, 0)) ** 2
            return torch.from_numpy(d2.reshape(n, h).mean(1)).float().to(cand.device)
        return torch.from_numpy(d**2).float().to(cand.device)

    return cost


def oracle_cost(env: WallDoorEnv, objective: str = "final") -> CostFn:
    """``true_cost`` from the current state of ``env``'s first agent."""
    return true_cost(env.position[0], env.goal[0], env.layouts[0], objective)


def random_actions(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """Exploration-like actions (n, steps, 2): heading random walk, truncated-normal lengths."""
    theta = act.heading_walk(rng, rng.uniform(0.0, 2 * np.pi, size=n), steps)  # (n, steps)
    return act.polar(theta, act.step_lengths(rng, (n, steps))).astype(np.float32)
