"""Reference policies that need no model: an oracle CEM planner and random actions.

The oracle runs the same CEM as the latent planner but scores candidates with the true dynamics
(``physics.simulate``, collisions included) and the true cost-to-go: the shortest path length to
the goal, through the door when the goal is in the other room. It bounds what a perfect world
model could reach with this planner. The random baseline draws actions like the exploration data
(heading random walk, step lengths in [0.2, 1.8]).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from jepa_bench.data.wall_door import actions as act
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.planning.cem import CEMResult, CEMSettings, CostFn, Objective, cem
from jepa_bench.planning.episodes import path_length


def true_cost(
    position: np.ndarray, goal: np.ndarray, layout: np.ndarray, objective: Objective = "final"
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


class OraclePlanner:
    """CEM with the true dynamics and the true cost-to-go (same settings as the latent planner)."""

    def __init__(self, settings: CEMSettings, objective: Objective = "final") -> None:
        self.settings, self.objective = settings, objective

    def plan(
        self,
        position: np.ndarray,
        goal: np.ndarray,
        layout: np.ndarray,
        horizon: int | None = None,
        init_mean: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> CEMResult:
        """One planning call from ``position`` toward ``goal`` in ``layout`` (each (2,))."""
        fn = true_cost(position, goal, layout, self.objective)
        return cem(fn, self.settings, 2, horizon, init_mean, generator)


def random_actions(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """Exploration-like actions (n, steps, 2): heading random walk, truncated-normal lengths."""
    theta = act.heading_walk(rng, rng.uniform(0.0, 2 * np.pi, size=n), steps)  # (n, steps)
    return act.polar(theta, act.step_lengths(rng, (n, steps))).astype(np.float32)
