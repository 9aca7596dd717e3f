"""arm_sim data generation across processes: frames/s with 1 worker (the reference) and more.

Generation renders the simulated episodes and encodes them to AV1 (one SVT-AV1 thread per
worker process, one v3.0 file of episodes per job); conversion decodes them into the HDF5 file
the task trains on. Both are timed; the datasets of every worker count are checked identical.

    python benchmarks/bench_sim_data.py [--episodes 40] [--size 64] [--workers 1,2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
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


def one_run(tmp: Path, args: argparse.Namespace, workers: int) -> tuple[float, float, int, str]:
    """(generation s, conversion s, frames, dataset digest) of one fresh build."""
    shutil.rmtree(tmp, ignore_errors=True)
    t = time.perf_counter()
    root = ds.write_sim_lerobot(tmp / "lerobot", args.episodes, ds.DATA_SEED, args.size, 1.0,
                                workers=workers)  # fmt: skip
    gen_s = time.perf_counter() - t
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
    counts = [int(w) for w in args.workers.split(",")]
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
    print(f"| workers | generate s (median of {args.repeats}) | frames/s | vs 1 worker | "
          "convert s | generate + convert s |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    ref = rows[counts[0]][0]
    for w, (gen_s, conv_s) in rows.items():
        print(f"| {w} | {gen_s:.2f} | {frames / gen_s:.0f} | {ref / gen_s:.2f}x | {conv_s:.2f} | "
              f"{gen_s + conv_s:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
