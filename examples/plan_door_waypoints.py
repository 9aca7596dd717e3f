"""A reference experiment, not a model planner: cross-room planning with the door given.

The model plans (its own planner and protocol, ``eval.plan`` of the run) toward two waypoints
the task knows and the model does not: a point 4 px before the door on the start side, then 4 px
past it, then the goal. The planner switches to the next target once the encoded observation
is within ``--switch`` (latent distance) of the waypoint's encoding. This separates "finding the
door" from "getting through it": docs/planning.md reports both.

    python examples/plan_door_waypoints.py --run RUN_DIR [--episodes 100] [--seeds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jepa_bench.data.base import planning_suite  # noqa: E402
from jepa_bench.data.wall_door.render import render  # noqa: E402
from jepa_bench.planning import LatentPlanner, make_planner  # noqa: E402
from jepa_bench.planning.play import _warm, generators_for, run_batch  # noqa: E402
from jepa_bench.planning.stats import summarise  # noqa: E402
from jepa_bench.runner import RunDir  # noqa: E402


def play(run, cfg, eps, switch: float, seed: int, k: int) -> np.ndarray:
    """Distances (E, T+1) of cross-room episodes planned through the door waypoints."""
    suite = planning_suite(run.task)
    lp = LatentPlanner(run.model, make_planner(cfg, suite.max_action_norm), 2, cfg.objective)
    env = suite.make_env()
    env.reset(eps.starts, eps.goals, eps.layouts)
    b, side = len(eps), np.sign(eps.starts[:, 0] - eps.layouts[:, 0])
    points = [
        np.stack([eps.layouts[:, 0] + side * off, eps.layouts[:, 1]], 1).astype(np.float32)
        for off in (4.0, -4.0)
    ] + [eps.goals]
    targets = torch.stack(
        [lp.encode(torch.from_numpy(render(p[:, None], eps.layouts)))[:, 0] for p in points], 1
    )  # (B, 3, D)
    stage = torch.zeros(b, dtype=torch.long)
    gens = generators_for(seed, k, 1, b, torch.device("cpu"))
    state: dict = {}

    def choose(env, frames, done):
        z = lp.encode(torch.from_numpy(frames[-1][:, None]))  # (B, 1, D)
        for _ in range(2):  # advance past every waypoint already reached
            near = (z[:, 0] - targets[torch.arange(b), stage]).norm(dim=-1) < switch
            stage.add_((near & (stage < 2)).long())
        h = min(cfg.horizon, cfg.max_steps - len(done))
        goal = targets[torch.arange(b), stage]
        res = lp.plan(z, torch.zeros(b, 0, 2), goal, _warm(state, b, h, 2), gens)
        state["plan"], state["used"] = res.actions.detach(), cfg.replan_every
        return res.actions[:, : cfg.replan_every].detach().numpy()

    return run_batch(env, choose, cfg.max_steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="A run directory.")
    ap.add_argument("--episodes", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--switch", type=float, default=2.5, help="Latent distance to a waypoint.")
    args = ap.parse_args()
    run = RunDir(Path(args.run)).load("cpu")
    cfg = run.cfg.eval.plan
    cfg = replace(cfg, episodes=args.episodes or cfg.episodes, seeds=args.seeds or cfg.seeds)
    suite = planning_suite(run.task)
    dists = [
        play(run, cfg, suite.episodes(cfg.episodes, suite.episode_seed + k)["cross_room"],
             args.switch, run.cfg.seed, k)
        for k in range(cfg.seeds)
    ]  # fmt: skip
    s = summarise(np.concatenate(dists), cfg.radius, cfg.loose_radius)
    keep = ("success", "success_lo", "success_hi", "success_loose", "success_loose_lo",
            "success_loose_hi", "episodes", "final_dist")  # fmt: skip
    print(json.dumps({"cross_room_with_door_waypoints": {k: s[k] for k in keep}}, indent=1))


if __name__ == "__main__":
    main()
