"""Training throughput of the lewm family: samples/s of one LeWM training step.

A step is forward + backward + gradient clipping + AdamW update of the LeWM objective
(prediction MSE + 0.09 * SIGReg when the ``sigreg`` regulariser is registered, MSE alone
otherwise; the table says which). Cases:

- ``lewm_cpu`` on wall_door-shaped batches (B, 17, 2, 65, 65), action_dim 2;
- ``lewm`` (reference size) on (B, 4, 3, 224, 224), action_dim 30 (6 joints x frameskip 5).

Each case is timed on two paths built from the same weights and batches: jepa-bench's default
(fused scaled-dot-product attention; bf16 autocast on CUDA) and a reference path (explicit
softmax attention, float32). Median of ``--repeats`` steps after ``--warmup`` steps; the
two paths' steps alternate so that load on a shared machine affects both alike.

    OMP_NUM_THREADS=1 python benchmarks/bench_lewm.py [--repeats 5] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine  # noqa: E402
from jepa_bench.data.base import TaskSpec  # noqa: E402
from jepa_bench.models.lewm import LEWM, LEWM_CPU, LeWM  # noqa: E402
from jepa_bench.registry import REGULARIZERS  # noqa: E402
from jepa_bench.regularizers.base import Objective  # noqa: E402

WALL = TaskSpec("wall_door", "bench", (2, 65, 65), 2, 17)
ROBOT = TaskSpec("robot", "bench", (3, 224, 224), 30, 4)


def objective_and_name() -> tuple[Objective, str]:
    """The LeWM objective if SIGReg is available, else the prediction MSE alone."""
    if "sigreg" in REGULARIZERS:
        from jepa_bench.regularizers.compose import build_objective

        return build_objective("sigreg:0.09"), "MSE + 0.09 * SIGReg"
    return Objective([]), "MSE only (sigreg not registered)"


def make_step(
    model: LeWM, obs: torch.Tensor, act: torch.Tensor, objective: Objective, bf16: bool
) -> Callable[[], None]:
    """One training step closure on fixed batches."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-3)
    device = obs.device.type

    def step() -> None:
        ctx = torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss = objective(model.train_latents(obs, act))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def bench_case(
    factory: Callable[..., LeWM],
    spec: TaskSpec,
    batch: int,
    device: torch.device,
    repeats: int,
    warmup: int,
    objective: Objective,
) -> dict[str, float]:
    """Median seconds per step of the default and the reference path (same weights, batches).

    The two paths' steps alternate, so a load change on a shared machine hits both alike.
    """
    c, h, w = spec.obs_shape
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(batch, spec.seq_len, c, h, w, generator=g).to(device)
    act = torch.randn(batch, spec.seq_len - 1, spec.action_dim, generator=g).to(device)
    steps: dict[str, Callable[[], None]] = {}
    for path, fused, bf16 in (
        ("default", True, device.type == "cuda"),
        ("reference", False, False),
    ):
        torch.manual_seed(0)
        model = factory(spec, fused_attention=fused).to(device).train()
        steps[path] = make_step(model, obs, act, objective, bf16)
    times: dict[str, list[float]] = {path: [] for path in steps}
    for i in range(warmup + repeats):
        for path, step in steps.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times[path].append(time.perf_counter() - start)
    return {path: statistics.median(t) for path, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--cpu-batch", type=int, default=32, help="batch of the lewm_cpu case")
    ap.add_argument("--ref-batch", type=int, default=8, help="batch of the reference-size case")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda given but CUDA is not available")
    objective, obj_name = objective_and_name()
    objective = objective.to(device)
    cases = [
        ("lewm_cpu", LEWM_CPU, WALL, args.cpu_batch),
        ("lewm", LEWM, ROBOT, args.ref_batch),
    ]
    print(f"Machine: {machine()}")
    print(f"Device: {device}; objective: {obj_name}; median of {args.repeats} steps")
    print(f"Default path: fused SDPA{' + bf16 autocast' if device.type == 'cuda' else ''};")
    print("reference path: explicit softmax attention, float32.\n")
    breakdowns = {name: factory(spec).param_breakdown() for name, factory, spec, _ in cases}
    for name, counts in breakdowns.items():
        print(f"{name} parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print()
    print("| model | params | batch (B x T x C x H x W) | path | s/step | samples/s | frames/s |")
    print("|---|---|---|---|---|---|---|")
    for name, factory, spec, batch in cases:
        params = breakdowns[name]["total"]
        times = bench_case(factory, spec, batch, device, args.repeats, args.warmup, objective)
        shape = f"{batch} x {spec.seq_len} x " + " x ".join(map(str, spec.obs_shape))
        for path, sec in times.items():
            print(
                f"| {name} | {params / 1e6:.2f} M | {shape} | {path} | {sec:.3f} | "
                f"{batch / sec:.1f} | {batch * spec.seq_len / sec:.0f} |"
            )
        print(
            f"| {name} | | | default vs reference | {times['reference'] / times['default']:.2f}x"
            " | | |"
        )


if __name__ == "__main__":
    main()
