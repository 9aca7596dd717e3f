"""Time per planning call: one CEM solve in latent space on a wall_door observation.

A call is what ``jepa-bench plan`` does every ``replan_every`` steps: encode the current
observation, then CEM (samples x iterations candidates, each rolled ``horizon`` steps forward
with ``model.predict`` in one batch) toward an encoded goal. Models have untrained weights (the
cost of a call does not depend on them). The oracle planner (same CEM, true physics instead of
a model) runs in the same process as the reference path. Median of ``--repeats`` calls after
one warm-up call.

    OMP_NUM_THREADS=1 python benchmarks/bench_planning.py [--repeats 5] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine, median_time  # noqa: E402
from jepa_bench.data.wall_door.actions import STEP_HI  # noqa: E402
from jepa_bench.data.wall_door.env import WallDoorEnv  # noqa: E402
from jepa_bench.data.wall_door.episodes import make_episodes  # noqa: E402
from jepa_bench.data.wall_door.oracle import true_cost  # noqa: E402
from jepa_bench.data.wall_door.task import WallDoorTask  # noqa: E402
from jepa_bench.planning import CEMSettings, LatentPlanner, cem  # noqa: E402
from jepa_bench.registry import MODELS  # noqa: E402


def model_call(
    name: str, settings: CEMSettings, device: torch.device
) -> tuple[Callable[[], object], int, int]:
    """A closure doing one planning call with model ``name``; its parameter count and D."""
    spec = WallDoorTask("smoke", cache=False).spec  # no data are generated for the spec
    torch.manual_seed(0)
    model = MODELS.get(name)(spec).to(device).eval()
    planner = LatentPlanner(model, settings, 2, "final", device)
    eps = make_episodes("same_room", 1)
    env = WallDoorEnv()
    obs = env.reset(eps.starts, eps.goals, eps.layouts)
    frames = torch.from_numpy(obs)  # (1, C, H, W): one frame of context
    z_goal = planner.encode(torch.from_numpy(env.goal_observation()))[0]
    gen = torch.Generator(device=device).manual_seed(0)

    def call() -> object:
        z_ctx = planner.encode(frames)  # (1, D)
        return planner.plan(z_ctx, torch.zeros(0, 2), z_goal, generator=gen)

    params = sum(p.numel() for p in model.parameters())
    return call, params, model.repr_dim


def oracle_call(settings: CEMSettings) -> Callable[[], object]:
    """One CEM solve on the true dynamics from the same start toward the same goal."""
    eps = make_episodes("same_room", 1)
    cost = true_cost(eps.starts[0], eps.goals[0], eps.layouts[0])
    gen = torch.Generator().manual_seed(0)
    return lambda: cem(cost, settings, 2, generator=gen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--topk", type=int, default=30)
    ap.add_argument("--horizon", type=int, default=8)
    ap.add_argument("--models", default="convnext_mlp,lewm_cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda given but CUDA is not available")
    s = CEMSettings(args.samples, args.iterations, args.topk, args.horizon, max_norm=STEP_HI)
    rows_per_call = s.samples * s.iterations * s.horizon
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"Device: {device}; CEM {s.samples} samples x {s.iterations} iterations, top {s.topk}, "
        f"horizon {s.horizon} ({rows_per_call:,} predicted latents per call); "
        f"median of {args.repeats} calls\n"
    )
    print("| planner | params | D | s / call | predicted latents / s | vs oracle |")
    print("|---|---|---|---|---|---|")
    oracle_s = median_time(oracle_call(s), args.repeats)
    results = []
    for name in [m for m in args.models.split(",") if m]:
        if name not in MODELS:
            print(f"| {name} | (not registered) | | | | |")
            continue
        call, params, dim = model_call(name, s, device)
        with torch.inference_mode():
            sec = median_time(call, args.repeats)
        results.append((name, params, dim, sec))
    for name, params, dim, sec in results:
        print(
            f"| {name} | {params / 1e6:.3f} M | {dim} | {sec:.3f} | {rows_per_call / sec:,.0f} | "
            f"{sec / oracle_s:.1f}x |"
        )
    print(
        f"| oracle (true physics, numpy) | - | - | {oracle_s:.3f} | "
        f"{rows_per_call / oracle_s:,.0f} | 1.0x |"
    )


if __name__ == "__main__":
    main()
