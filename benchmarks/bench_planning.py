"""Time per planning decision of each planner (CEM, MPPI, gradient) on wall_door observations.

A decision is what planning does for one episode every ``replan_every`` steps: encode the current
observation, then solve toward the encoded goal with the planner. Decisions of ``--batch``
episodes are made in one batched call (as ``plan_eval`` does) and the call's time is divided by
the batch. Settings are ``PlanConfig``'s defaults (the in-run protocol) with the planner swapped.
Models have untrained weights (the cost of a decision does not depend on them). Reference path:
the oracle planner (the same planner on the true numpy physics; CEM for the gradient planner) in
the same process. Median of ``--repeats`` calls after one warm-up call.

    OMP_NUM_THREADS=1 python benchmarks/bench_planning.py [--repeats 5] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine, median_time  # noqa: E402
from jepa_bench.config import PLANNERS, PlanConfig  # noqa: E402
from jepa_bench.data.wall_door.actions import STEP_HI  # noqa: E402
from jepa_bench.data.wall_door.env import WallDoorEnv  # noqa: E402
from jepa_bench.data.wall_door.episodes import make_episodes  # noqa: E402
from jepa_bench.data.wall_door.oracle import true_cost  # noqa: E402
from jepa_bench.data.wall_door.task import WallDoorTask  # noqa: E402
from jepa_bench.planning import LatentPlanner, make_planner  # noqa: E402
from jepa_bench.registry import MODELS  # noqa: E402


def _setup(batch: int) -> tuple[WallDoorEnv, list[torch.Generator]]:
    eps = make_episodes("same_room", batch)
    env = WallDoorEnv()
    env.reset(eps.starts, eps.goals, eps.layouts)
    return env, [torch.Generator().manual_seed(i) for i in range(batch)]


def model_call(name: str, cfg: PlanConfig, batch: int) -> Callable[[], object]:
    """One batched decision (encode + solve) of ``batch`` episodes with model ``name``."""
    spec = WallDoorTask("smoke", cache=False).spec  # no data are generated for the spec
    torch.manual_seed(0)
    model = MODELS.get(name)(spec).eval()
    planner = LatentPlanner(model, make_planner(cfg, STEP_HI), 2, cfg.objective)
    env, gens = _setup(batch)
    frames = torch.from_numpy(env.observe()[:, None])  # (B, 1, C, H, W)
    z_goal = planner.encode(torch.from_numpy(env.goal_observation()[:, None]))[:, 0]
    init = torch.zeros(batch, cfg.horizon, 2)
    return lambda: planner.plan(
        planner.encode(frames), torch.zeros(batch, 0, 2), z_goal, init, gens
    )


def oracle_call(cfg: PlanConfig, batch: int) -> Callable[[], object]:
    """The same decision on the true dynamics and cost-to-go (CEM for the gradient planner)."""
    env, gens = _setup(batch)
    planner = make_planner(cfg, STEP_HI, "cem" if cfg.planner == "gradient" else cfg.planner)
    cost = true_cost(env.position, env.goal, env.layouts, cfg.objective)
    init = torch.zeros(batch, cfg.horizon, 2)
    return lambda: planner.solve(cost, init, gens)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=100, help="Episodes per batched call.")
    ap.add_argument("--models", default="convnext_mlp,lewm_cpu")
    ap.add_argument("--planners", default=",".join(PLANNERS))
    args = ap.parse_args()
    base = PlanConfig()
    print(f"Machine: {machine()}; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(
        f"PlanConfig defaults: horizon {base.horizon}, samples {base.samples}, iterations "
        f"{base.iterations}, top {base.topk}, restarts {base.restarts}; {args.batch} episodes per "
        f"call; median of {args.repeats} calls, ms per decision\n"
    )
    planners = [p for p in args.planners.split(",") if p]
    print("| model | " + " | ".join(planners) + " |")
    print("|---|" + "---|" * len(planners))
    oracle = {}
    for p in planners:
        cfg = replace(base, planner=p)
        oracle[p] = median_time(oracle_call(cfg, args.batch), args.repeats) / args.batch
    for name in [m for m in args.models.split(",") if m]:
        if name not in MODELS:
            print(f"| {name} | (not registered) |")
            continue
        cells = []
        for p in planners:
            call = model_call(name, replace(base, planner=p), args.batch)
            sec = median_time(call, args.repeats) / args.batch
            cells.append(f"{sec * 1e3:.1f} ({sec / oracle[p]:.0f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"{oracle[p] * 1e3:.2f} (1x)" for p in planners]
    print("| oracle (true physics, numpy) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
