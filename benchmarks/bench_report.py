"""Time to build the report of one run: subsampled t-SNE (the default) vs t-SNE on every point.

Both paths write the same report of the same run (all figures, the HTML page); the reference path
only differs in running t-SNE on every encoded and predicted frame instead of a subsample.

    python benchmarks/bench_report.py [RUN_DIR] [--repeats 3] [--tsne-points 1500]
        [--max-windows 64]

Without RUN_DIR a smoke run is made in a temporary folder. For the default-budget figure, first
make a default run, e.g. ``jepa-bench run -m convnext_mlp -t wall_door --out runs``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine  # noqa: E402
from jepa_bench.report import build_report  # noqa: E402


def smoke_run(root: Path) -> Path:
    """A convnext_mlp_smoke run on wall_door in ``root``."""
    from jepa_bench.runner import execute_run, resolve

    cfg = resolve(dict(
        model="convnext_mlp_smoke", task="wall_door", budget="smoke", device="cpu",
        out=str(root / "runs"), data_dir=str(root / "cache"),
    ))  # fmt: skip
    return root / "runs" / execute_run(cfg, progress=False)["run_id"]


def time_report(run: Path, out: Path, tsne: int | None, windows: int, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` report builds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        build_report([run], out, tsne_points=tsne, max_windows=windows)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tsne-points", type=int, default=1500)
    ap.add_argument("--max-windows", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run_dir) if args.run_dir else smoke_run(Path(tmp))
        out = Path(tmp) / "report"
        # warm-up: imports and the task's data cache
        build_report([run], out, tsne_points=args.tsne_points, max_windows=args.max_windows)
        rows = []
        for label, tsne in (
            (f"report, t-SNE on {args.tsne_points} points (default)", args.tsne_points),
            ("reference: report, t-SNE on every point", None),
        ):
            times = time_report(run, out, tsne, args.max_windows, args.repeats)
            rows.append((label, statistics.median(times), min(times), max(times)))
    print(f"run: {run}")
    print(f"machine: {machine()}")
    print(f"median of {args.repeats} after one warm-up build; --max-windows {args.max_windows}")
    print()
    print("| path | median s | min s | max s | vs reference |")
    print("|---|---:|---:|---:|---:|")
    ref = rows[-1][1]
    for label, med, lo, hi in rows:
        print(f"| {label} | {med:.1f} | {lo:.1f} | {hi:.1f} | {med / ref:.2f} |")


if __name__ == "__main__":
    main()
