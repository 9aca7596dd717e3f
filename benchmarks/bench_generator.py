"""Throughput of the wall_door generator and renderer, against a per-trajectory Python loop.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_generator.py [--n 4000] [--repeats 5]

Prints a markdown table (median of ``--repeats`` runs) with machine facts. The loop reference
steps each trajectory with scalar Python arithmetic under the same collision rule; its output is
checked against the vectorised stepping before timing is reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from jepa_bench.data.wall_door import generate as gen
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.render import render


def loop_blocked(px: float, py: float, qx: float, qy: float, wx: float, dy: float) -> bool:
    """Scalar version of the collision rule (border, wall faces, door edges)."""
    if not (4.0 < qx < 60.0 and 4.0 < qy < 60.0):
        return True
    lo, hi = wx - 1.0, wx + 1.0
    dx = qx - px
    if dx == 0.0:
        if not lo <= px <= hi:
            return False
        t0, t1 = 0.0, 1.0
    else:
        ta, tb = (lo - px) / dx, (hi - px) / dx
        t0, t1 = max(min(ta, tb), 0.0), min(max(ta, tb), 1.0)
        if t0 > t1:
            return False
    y0, y1 = py + t0 * (qy - py), py + t1 * (qy - py)
    return abs(y0 - dy) > 4.0 or abs(y1 - dy) > 4.0


def loop_simulate(start: np.ndarray, actions: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Reference stepping: one trajectory and one step at a time."""
    n, steps = actions.shape[:2]
    out = np.empty((n, steps + 1, 2), dtype=np.float32)
    for i in range(n):
        x, y = np.float32(start[i, 0]), np.float32(start[i, 1])
        wx, dy = float(layouts[i, 0]), float(layouts[i, 1])
        out[i, 0] = (x, y)
        for t in range(steps):
            qx, qy = np.float32(x + actions[i, t, 0]), np.float32(y + actions[i, t, 1])
            if not loop_blocked(float(x), float(y), float(qx), float(qy), wx, dy):
                x, y = qx, qy
            out[i, t + 1] = (x, y)
    return out


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def render_all(data: dict[str, np.ndarray], batch: int) -> None:
    for lo in range(0, len(data["locations"]), batch):
        render(data["locations"][lo : lo + batch], data["layouts"][lo : lo + batch])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="trajectories per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="trajectories per rendered batch")
    args = parser.parse_args()
    n, reps = args.n, args.repeats

    data = gen.generate_split("train", n, progress=False)
    start, acts, lays = data["locations"][:, 0], data["actions"], data["layouts"]
    ref = loop_simulate(start, acts, lays)
    if not np.array_equal(ref, ph.simulate(start, acts, lays)):
        raise SystemExit("the loop reference and the vectorised stepping disagree")

    t_gen = median_time(lambda: gen.generate_split("train", n, progress=False), reps)
    t_vec = median_time(lambda: ph.simulate(start, acts, lays), reps)
    t_loop = median_time(lambda: loop_simulate(start, acts, lays), max(1, min(reps, 3)))
    t_render = median_time(lambda: render_all(data, args.batch), reps)
    one = {"locations": data["locations"][: args.batch], "layouts": lays[: args.batch]}
    t_batch = median_time(lambda: render_all(one, args.batch), reps)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(f"task {gen.TASK_VERSION}, {n} trajectories of {gen.SEQ_LEN} frames, median of {reps}\n")
    print("| measurement | seconds | trajectories/s |")
    print("|---|---:|---:|")
    rows = [
        ("generate train split (compact)", t_gen),
        ("stepping, vectorised", t_vec),
        ("stepping, per-trajectory loop", t_loop),
        (f"render to float32 obs (batches of {args.batch})", t_render),
    ]
    for label, t in rows:
        print(f"| {label} | {t:.4f} | {n / t:,.0f} |")
    mb = args.batch * gen.SEQ_LEN * 2 * 65 * 65 * 4 / 2**20
    print(
        f"| render one batch of {args.batch} ({mb:.0f} MiB) | {t_batch:.4f} | "
        f"{args.batch / t_batch:,.0f} |"
    )
    print(
        f"\nvectorised stepping is {t_loop / t_vec:,.0f}x faster than the loop "
        f"(same output, checked); full budget train split ~{147_000 * t_gen / n:.1f} s"
    )


if __name__ == "__main__":
    main()
