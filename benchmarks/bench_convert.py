"""Speed and peak memory of ``jepa-bench convert`` on a 480x640 AV1 LeRobot v3.0 dataset.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_convert.py [--frames 3000] [--repeats 3]

Builds two synthetic datasets with the same number of frames, one of short and one of long
episodes, and converts each to 224x224 LZF HDF5 with the streaming converter and with a naive
reference that decodes each whole episode into memory with PyAV before resizing and writing it.
Every conversion runs in its own subprocess, timed from spawn to exit (interpreter start-up
included), which reports its own peak RSS. Prints a markdown table of medians over ``--repeats``
runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HW = (480, 640)
OUT_HW = (224, 224)
FPS = 30


def machine() -> str:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
            cpu = names[0]
    except (OSError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def scene(episode: int, n: int):
    """Frames of a synthetic tabletop: a textured background, a moving arm and a block."""
    rng = np.random.default_rng(episode)
    h, w = HW
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 110 + 40 * np.sin(xx / 37 + episode) * np.cos(yy / 23)
    base = base + rng.normal(0, 4, (h // 8, w // 8)).repeat(8, 0).repeat(8, 1)
    bg = np.clip(np.stack([base, base * 0.9, base * 0.8], -1), 0, 255).astype(np.uint8)
    for t in range(n):
        img = bg.copy()
        cx = int(w / 2 + 200 * np.sin(2 * np.pi * t / 150 + episode))
        cy = int(h / 2 + 120 * np.cos(2 * np.pi * t / 110))
        img[max(0, cy - 30) : cy + 30, max(0, cx - 90) : cx + 90] = (200, 60, 40)  # the arm
        img[h - 120 : h - 60, (40 + 3 * t) % (w - 60) :][:, :60] = (40, 160, 60)  # a block
        yield img


def build(root: Path, episodes: int, length: int) -> Path:
    from jepa_bench.convert.lerobot_writer import write_lerobot_dataset

    def eps():
        for e in range(episodes):
            ep = {"observation.images.laptop": scene(e, length)}
            ep["action"] = np.random.default_rng(e).normal(size=(length, 6)).astype(np.float32)
            ep["observation.state"] = ep["action"].cumsum(0)
            yield ep

    return write_lerobot_dataset(
        root, eps(), fps=FPS, version="v3.0", codec="libsvtav1",
        camera_keys=["observation.images.laptop"], encoder_options={"preset": "12"},
    )  # fmt: skip


def child_ours(src: Path, out: Path) -> dict:
    from jepa_bench.convert import ConvertOptions, convert_lerobot

    opts = ConvertOptions(size=OUT_HW, progress=False, report_path=str(out) + ".json")
    report = convert_lerobot(src, out, opts, log=lambda line: None)
    return {"frames": report.frames_written, "estimate_mb": report.plan["peak_memory_mb"]}


def child_naive(src: Path, out: Path) -> dict:
    """Decode each whole episode into a list of full-size frames, then resize and write it."""
    import av
    import h5py

    from jepa_bench.convert.lerobot_meta import read_source

    source = read_source(src)
    cam = source.camera_keys[0]
    n_total = source.n_frames
    with h5py.File(out, "w") as f:
        px = f.create_dataset(
            "pixels", (n_total, *OUT_HW, 3), np.uint8, chunks=(64, *OUT_HW, 3), compression="lzf"
        )
        row = 0
        for e in source.episodes:
            ref = e.videos[cam]
            frames = []  # the whole episode, full size: e.length x (480, 640, 3)
            with av.open(str(ref.path)) as c:
                s = c.streams.video[0]
                c.seek(int(ref.from_ts / s.time_base), stream=s)
                for fr in c.decode(s):
                    if fr.time >= ref.to_ts - 0.5 / FPS:
                        break
                    if fr.time >= ref.from_ts - 0.5 / FPS:
                        frames.append(fr.to_ndarray(format="rgb24"))
            h, w = OUT_HW
            small = [
                av.VideoFrame.from_ndarray(x, format="rgb24")
                .reformat(width=w, height=h, format="rgb24", interpolation="BILINEAR")
                .to_ndarray()
                for x in frames
            ]
            px[row : row + len(small)] = np.stack(small)
            row += len(small)
    return {"frames": row, "estimate_mb": None}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MiB.

    ``ru_maxrss`` of a child would also count the parent's memory at the time of the fork (Linux
    keeps the larger high-water mark across exec), so the child reports VmHWM itself.
    """
    try:
        with open("/proc/self/status") as fh:
            return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, src: Path, out: Path) -> dict:
    """Run one conversion in a fresh process; return its speed and peak RSS."""
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(src), str(out)], stdout=subprocess.PIPE
    )
    stdout, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} conversion failed with status {proc.returncode}")
    result = json.loads(stdout)
    return {**result, "seconds": seconds, "fps": result["frames"] / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Keep the datasets in this folder.")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, src, out = args.child
        fn = child_ours if kind == "streaming" else child_naive
        result = fn(Path(src), Path(out))
        print(json.dumps({**result, "rss_mb": peak_rss_mb()}))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_convert_"))
    t0 = time.perf_counter()
    try:
        rows = measure(work, args.frames, args.repeats)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"benchmark took {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"Machine: {machine()}; {datetime.date.today().isoformat()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"median of {args.repeats} runs, {HW[0]}x{HW[1]} AV1 (LeRobot v3.0) -> "
          f"{OUT_HW[0]}x{OUT_HW[1]} LZF\n")  # fmt: skip
    print("| episodes x frames | path | frames/s | peak RSS (MiB) | speed vs naive | "
          "RSS vs naive | estimated peak (MiB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


def measure(work: Path, frames: int, repeats: int) -> list[str]:
    """Build both datasets (if absent) and time both paths on each; return table rows."""
    shapes = [(10, frames // 10), (3, -(-frames // 3))]  # short and long episodes
    rows = []
    for episodes, length in shapes:
        src = work / f"ds_{episodes}x{length}"
        if not (src / "meta" / "info.json").exists():
            t0 = time.perf_counter()
            build(src, episodes, length)
            print(f"built {src.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        res = {k: [run_child(k, src, work / f"{k}.h5") for _ in range(repeats)]
               for k in ("streaming", "naive")}  # fmt: skip
        med = {k: {m: statistics.median(r[m] for r in v) for m in ("fps", "rss_mb")}
               for k, v in res.items()}  # fmt: skip
        est = statistics.median(r["estimate_mb"] for r in res["streaming"])
        for kind in ("streaming", "naive"):
            m, ref = med[kind], med["naive"]
            rows.append(
                f"| {episodes} x {length} | {kind} | {m['fps']:.0f} | {m['rss_mb']:.0f} | "
                f"{m['fps'] / ref['fps']:.2f} | {m['rss_mb'] / ref['rss_mb']:.2f} | "
                + (f"{est:.0f} |" if kind == "streaming" else "- |")
            )
    return rows


if __name__ == "__main__":
    main()
