"""arm_sim data generation across processes: frames/s with 1 worker (the reference) and more.

Generation renders the simulated episodes and encodes them to AV1 (one v3.0 file of episodes
per job); conversion decodes them into the HDF5 file the task trains on. Both are timed; the
datasets of every worker count are checked identical.

A single worker is not a single core: SVT-AV1 pipelines its stages over threads even at
``lp=1``, so one worker process keeps about 1.2 cores busy. The first row is therefore one
worker confined to one core (``sched_setaffinity``), the per-core rate that more workers
multiply; the ratios are against it, with the unconfined single worker as a second reference.

    python benchmarks/bench_sim_data.py [--episodes 40] [--size 64] [--workers 1,2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine  # noqa: E402
from jepa_bench.convert.layout import open_lewm_h5  # noqa: E402
from jepa_bench.data.robot.arm_sim import dataset as ds  # noqa: E402


def digest(root: Path) -> str:
    """One hash of every file's path and bytes under ``root``."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _generate(out: Path, episodes: int, size: int, workers: int) -> float:
    t = time.perf_counter()
    ds.write_sim_lerobot(out, episodes, ds.DATA_SEED, size, 1.0, workers=workers)
    return time.perf_counter() - t


def _one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def one_run(tmp: Path, args: argparse.Namespace, workers: int) -> tuple[float, float, int, str]:
    """(generation s, conversion s, frames, dataset digest) of one fresh build; ``workers`` 0:
    one worker in a child process confined to one core."""
    shutil.rmtree(tmp, ignore_errors=True)
    root = tmp / "lerobot"
    if workers == 0:
        with ProcessPoolExecutor(1, initializer=_one_core) as pool:
            gen_s = pool.submit(_generate, root, args.episodes, args.size, 1).result()
    else:
        gen_s = _generate(root, args.episodes, args.size, workers)
    t = time.perf_counter()
    h5 = ds.convert_sim(root, tmp / "arm_sim.h5")
    conv_s = time.perf_counter() - t
    with open_lewm_h5(h5) as f:
        frames = f.n_rows
    return gen_s, conv_s, frames, digest(root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    counts = [0] + [int(w) for w in args.workers.split(",")]
    rows, digests = {}, set()
    with tempfile.TemporaryDirectory() as tmp:
        times: dict[int, list[tuple[float, float]]] = {w: [] for w in counts}
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits every row
            for w in counts:
                gen_s, conv_s, frames, dig = one_run(Path(tmp) / f"w{w}", args, w)
                times[w].append((gen_s, conv_s))
                digests.add(dig)
        for w in counts:
            gen_s = statistics.median(t[0] for t in times[w])
            conv_s = statistics.median(t[1] for t in times[w])
            rows[w] = (gen_s, conv_s)
    if len(digests) != 1:
        raise SystemExit(f"datasets differ between worker counts: {sorted(digests)}")
    print(f"machine: {machine()}")
    print(f"arm_sim, {args.episodes} episodes, {args.size} px, {frames} frames, "
          f"{ds.EPISODES_PER_FILE} episodes per file; the datasets of every worker count are "
          "identical\n")  # fmt: skip
    print(f"| workers | generate s (median of {args.repeats}) | frames/s | vs 1 core | "
          "vs 1 worker | convert s | generate + convert s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    ref, ref1 = rows[0][0], rows.get(1, rows[0])[0]
    for w, (gen_s, conv_s) in rows.items():
        name = "1 on 1 core (reference)" if w == 0 else str(w)
        print(f"| {name} | {gen_s:.2f} | {frames / gen_s:.0f} | {ref / gen_s:.2f}x | "
              f"{ref1 / gen_s:.2f}x | {conv_s:.2f} | {gen_s + conv_s:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
