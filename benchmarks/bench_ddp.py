"""Training throughput of one process vs DDP over 2 processes on CPU (gloo), same global batch.

Reference path: one process using all cores' threads. DDP path: N processes with
cores/N threads each, global batch split between them, gradients all-reduced.

    python benchmarks/bench_ddp.py [--model convnext_mlp] [--batch 16] [--steps 6] [--nproc 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine  # noqa: E402


def step_times(model_name: str, batch: int, steps: int, threads: int) -> list[float]:
    """Seconds per training step (VICReg objective, Adam) in this process / rank."""
    import numpy as np

    from jepa_bench import distributed as ddp
    from jepa_bench.registry import MODELS, TASKS
    from jepa_bench.regularizers.compose import build_objective
    from jepa_bench.train.memory import tune_malloc

    tune_malloc()
    torch.set_num_threads(threads)
    task = TASKS.get("wall_door")(budget="smoke")
    torch.manual_seed(0)
    model = MODELS.get(model_name)(task.spec)
    objective = build_objective("vicreg", seed=0)
    if ddp.is_distributed():
        ddp.convert_batchnorm(model)
        net = torch.nn.parallel.DistributedDataParallel(ddp.TrainStep(model))
    else:
        net = ddp.TrainStep(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    idx = np.array_split(np.arange(batch) % len(task.train_set()), ddp.world_size())[ddp.rank()]
    b = task.train_set().batch(idx)
    obs, act = torch.from_numpy(b.obs), torch.from_numpy(b.actions)
    from jepa_bench.models.protocol import TrainLatents

    out = []
    for _ in range(steps + 1):  # the first step warms up
        t = time.perf_counter()
        loss = objective(TrainLatents(*net(obs, act)))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ddp.is_distributed():
            dist.barrier()
        out.append(time.perf_counter() - t)
    return out[1:]


def _rank(rank: int, world: int, init: str, args: argparse.Namespace, q: mp.Queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    threads = max(1, (os.cpu_count() or 1) // world)
    times = step_times(args.model, args.batch, args.steps, threads)
    if rank == 0:
        q.put(times)
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="convnext_mlp")
    ap.add_argument("--batch", type=int, default=16, help="global batch")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--nproc", type=int, default=2)
    args = ap.parse_args()
    single = step_times(args.model, args.batch, args.steps, os.cpu_count() or 1)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    init = tempfile.mktemp(prefix="jb_ddp_")
    procs = [
        ctx.Process(target=_rank, args=(r, args.nproc, init, args, q)) for r in range(args.nproc)
    ]
    for p in procs:
        p.start()
    multi = q.get()
    for p in procs:
        p.join()
    print(f"machine: {machine()}")
    print(
        f"{args.model}, global batch {args.batch} x 17 frames, VICReg, Adam; "
        f"median of {args.steps} steps after one warm-up\n"
    )
    print("| path | s/step | trajectories/s | vs 1 process |")
    print("|---|---|---|---|")
    s1, sn = statistics.median(single), statistics.median(multi)
    print(
        f"| 1 process, {os.cpu_count()} threads (reference) | {s1:.3f} | "
        f"{args.batch / s1:.2f} | 1.00x |"
    )
    print(
        f"| DDP {args.nproc} processes (gloo), {max(1, (os.cpu_count() or 1) // args.nproc)} "
        f"thread(s) each | {sn:.3f} | {args.batch / sn:.2f} | {s1 / sn:.2f}x |"
    )


if __name__ == "__main__":
    main()
