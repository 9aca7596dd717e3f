"""Training throughput of convnext_mlp on wall_door batches: trajectories/s per training step.

Compares jepa-bench's path (channels_last convolutions, the constant wall channel encoded once per
trajectory, the one-channel 1x1 stem computed as a per-channel scaling so the blocks receive
channels_last input, frames encoded in chunks whose activations stay under glibc's 32 MB mmap
threshold, the blocks of the mostly-empty agent channel run only around the agent,
``jepa_bench.models.sparse_blocks``) with the straightforward reference path (default memory
format, every frame of both channels encoded densely in one pass), measured in the same run on
the same batches.

The last row is the trainer end to end (``jepa_bench.train.loop.train``): batches made from the
default-budget wall_door data by its prefetch thread (rendered on the device on a GPU), bf16
autocast and the fused optimiser where the device has them, gradient clipping, the schedule
and the log; its step time is the median of the logged per-step times after the first step.

    python benchmarks/bench_train.py [--batch 16] [--repeats 5] [--device cpu|cuda]
        [--no-end-to-end]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import GpuBusy, machine, median_time  # noqa: E402
from jepa_bench.models.convnext_mlp import ConvNeXtMLP
from jepa_bench.models.sparse_blocks import sparse_crop_pixels
from jepa_bench.regularizers.base import Objective
from jepa_bench.regularizers.vicreg import VICReg
from jepa_bench.train.memory import tune_malloc  # noqa: E402


def step_fn(model: torch.nn.Module, obs: torch.Tensor, act: torch.Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    objective = Objective([VICReg()])

    def step() -> None:
        loss = objective(model.train_latents(obs, act))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def sparse_agreement(spec, obs: torch.Tensor, act: torch.Tensor) -> tuple[float, float]:
    """How far the sparse agent blocks are from the dense pass on one batch (same weights):
    the relative error of the latents and the largest relative error of a parameter gradient."""
    out = []
    for sparse in (False, True):
        torch.manual_seed(0)
        model = ConvNeXtMLP(spec, sparse=sparse).to(obs.device).train()
        torch.manual_seed(1)  # the same dropout masks on both passes
        emb = model.train_latents(obs, act).emb
        Objective([VICReg()])(model.train_latents(obs, act))["loss"].backward()
        out.append((emb.detach(), [p.grad for p in model.parameters()]))
    (z_dense, g_dense), (z_sparse, g_sparse) = out
    rel = lambda a, b: float((a - b).norm() / b.norm().clamp_min(1e-30))  # noqa: E731
    return rel(z_sparse, z_dense), max(rel(a, b) for a, b in zip(g_sparse, g_dense, strict=True))


def end_to_end_step(device: torch.device, batch: int, repeats: int) -> tuple[float, float | None]:
    """Median seconds per step of ``train`` on the default wall_door data (first step left out)
    and the GPU's mean utilisation meanwhile (None on the CPU)."""
    import json
    import statistics
    import tempfile

    from jepa_bench.config import TrainConfig
    from jepa_bench.data.wall_door import wall_door
    from jepa_bench.train.loop import LOG_FILE, train

    task = wall_door(budget="default")
    torch.manual_seed(0)
    model = ConvNeXtMLP(task.spec)
    settings = TrainConfig(steps=repeats + 1, batch_size=batch, log_every=1, optimizer="adam")
    with tempfile.TemporaryDirectory() as tmp, GpuBusy() as busy:
        train(model, Objective([VICReg()]), task.train_set(), settings, device=device, seed=0,
              run_dir=Path(tmp), progress=False)  # fmt: skip
        rows = [json.loads(line) for line in (Path(tmp) / LOG_FILE).read_text().splitlines()]
    elapsed = [r["elapsed_s"] for r in rows]
    return statistics.median(b - a for a, b in zip(elapsed, elapsed[1:])), busy.percent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-end-to-end", dest="end_to_end", action="store_false")
    args = ap.parse_args()
    from jepa_bench.data.wall_door import wall_door

    task = wall_door(budget="smoke")
    data = task.train_set()
    batch = data.batch(torch.arange(args.batch).numpy() % len(data))
    dev = torch.device(args.device)
    obs = torch.from_numpy(batch.obs).to(dev)
    act = torch.from_numpy(batch.actions).to(dev)
    tune_malloc()  # process-wide, so applied to every row; it only helps chunked encoding
    rows = []
    for label, kw in (
        (
            "reference: per-frame wall, default layout, one pass",
            dict(
                channels_last=False,
                encode_static_once=False,
                chunk_bytes=0,
                scale_stem=False,
                sparse=False,
            ),
        ),
        (
            "+ wall once per trajectory, channels_last",
            dict(chunk_bytes=0, scale_stem=False, sparse=False),
        ),
        (
            "+ one-channel stem as a scaling (blocks get channels_last)",
            dict(chunk_bytes=0, sparse=False),
        ),
        ("+ encoding in <32 MB chunks", dict(sparse=False)),
        ("+ agent blocks only around the agent (jepa-bench default)", {}),
    ):
        torch.manual_seed(0)
        model = ConvNeXtMLP(task.spec, **kw).to(dev).train()
        sec = median_time(step_fn(model, obs, act), args.repeats)
        rows.append((label, sec, args.batch / sec))
    lat_err, grad_err = sparse_agreement(task.spec, obs, act)
    crop = sparse_crop_pixels(obs[:, :, :1].flatten(0, 1), depth=2, kernel=7)  # the agent channel
    busy = None
    if args.end_to_end:
        sec, busy = end_to_end_step(dev, args.batch, args.repeats)
        rows.append(("trainer end to end (data, clipping, schedule, log)", sec, args.batch / sec))
    print(f"machine: {machine()}")
    print(f"convnext_mlp (293,344 params), batch {args.batch} x 17 frames, VICReg, Adam\n")
    print(f"| path | s/step (median of {args.repeats}) | trajectories/s | speed-up |")
    print("|---|---|---|---|")
    for label, sec, tps in rows:
        print(f"| {label} | {sec:.3f} | {tps:.2f} | {rows[0][1] / sec:.2f}x |")
    print(f"\nsparse agent blocks vs the dense pass, same weights and batch: latents "
          f"{lat_err:.1e}, largest parameter gradient {grad_err:.1e} (relative); agent crops of "
          f"{crop} pixels, frames of {obs.shape[-2] * obs.shape[-1]}")  # fmt: skip
    if args.end_to_end:
        sec = rows[-1][1]
        print(f"\nend to end: {20_000 * sec / 60:.1f} min per 20,000 steps at batch {args.batch}"
              + (f"; GPU {busy:.0f}% busy" if busy is not None else ""))  # fmt: skip


if __name__ == "__main__":
    main()
