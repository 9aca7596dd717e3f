"""Forward+backward time of each collapse regulariser against the plain prediction MSE.

Usage (one thread, to leave the other cores free):

    OMP_NUM_THREADS=1 python benchmarks/bench_regularizers.py --repeats 20

Every case times ``objective(lat)["loss"].backward()`` on leaf tensors pred/target/emb of shape
(B, T, D) and reports the median over repeats (after warm-up) and the ratio to the reference path,
``prediction_mse(lat).backward()`` at the same shape. Prints a markdown table with machine facts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import time
from collections.abc import Callable

import torch

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.base import prediction_mse
from jepa_bench.regularizers.compose import build_objective

SPECS = ("none", "vicreg", "sigreg")


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where available."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_latents(b: int, t: int, d: int, seed: int = 0) -> TrainLatents:
    """Leaf tensors (B, T, D) that require grad, as a model's training view would."""
    g = torch.Generator().manual_seed(seed)
    pred, target, emb = (torch.randn(b, t, d, generator=g).requires_grad_() for _ in range(3))
    return TrainLatents(pred=pred, target=target, emb=emb)


def time_ms(
    step: Callable[[], torch.Tensor], lat: TrainLatents, repeats: int, warmup: int
) -> float:
    """Median wall time in ms of computing ``step()`` and back-propagating it."""
    times = []
    for i in range(warmup + repeats):
        for x in (lat.pred, lat.target, lat.emb):
            x.grad = None
        start = time.perf_counter()
        step().backward()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def run(batch: int, dims: list[int], steps: list[int], repeats: int, warmup: int) -> list[dict]:
    """One row per (regulariser, D, T) with its median time and ratio to the reference."""
    rows = []
    for d in dims:
        for t in steps:
            lat = make_latents(batch, t, d)
            ref = time_ms(lambda lat=lat: prediction_mse(lat), lat, repeats, warmup)
            rows.append({"reg": "prediction MSE (reference)", "D": d, "T": t, "ms": ref})
            for spec in SPECS:
                obj = build_objective(spec, seed=0)
                ms = time_ms(lambda obj=obj, lat=lat: obj(lat)["loss"], lat, repeats, warmup)
                rows.append({"reg": spec, "D": d, "T": t, "ms": ms, "ratio": ms / ref})
    return rows


def markdown(rows: list[dict], batch: int, repeats: int) -> str:
    """The results as a markdown table headed by machine facts."""
    head = [
        f"- date: {dt.datetime.now().isoformat(timespec='seconds')}",
        f"- cpu: {cpu_name()}",
        f"- torch {torch.__version__}, threads {torch.get_num_threads()}",
        f"- B = {batch}, median of {repeats} repeats, forward + backward",
        "",
        "| regulariser | D | T | ms | x reference |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ratio = f"{r['ratio']:.1f}" if "ratio" in r else "1.0"
        head.append(f"| {r['reg']} | {r['D']} | {r['T']} | {r['ms']:.3f} | {ratio} |")
    return "\n".join(head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 192])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 4], help="values of T")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: env)")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    table = markdown(
        run(args.batch, args.dims, args.steps, args.repeats, args.warmup), args.batch, args.repeats
    )
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
