"""Random windows per second: HDF5 (``jepa_bench.data.robot``) against PyAV decoding of the mp4s.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_loader.py [--episodes 100] [--size 64]
       [--batch 128] [--repeats 7] [--data-dir DIR] [--rechunk 16,4,1,raw]

Builds (or reuses, in ``--data-dir``) an ``arm_sim`` dataset: a LeRobot v3.0 folder (AV1 mp4,
several episodes per file) and its HDF5 conversion. Draws random batches of ``--batch`` training
windows (frameskip 5, 4 frames) and reads the same windows through each path:

- ``hdf5, cold``: the handle is re-opened before each batch, so every chunk a batch touches is
  decompressed (what a file larger than the chunk cache costs); with ``--rechunk``, also on
  copies whose pixels use other chunk sizes or no compression;
- ``hdf5``: ``H5Frames.frames`` on the file, 256 MiB chunk cache (warm after the first batches);
- ``hdf5, in memory``: the optional whole-file cache;
- ``task batch()``: what training gets, with the task's default cache (frames to float32
  (B, T, 3, H, W), z-scored action blocks);
- ``pyav``: per window, seek in the episode's mp4 to the first frame and decode up to the last,
  keeping the 4 frames as RGB arrays, one decoder thread (containers stay open across windows,
  which favours PyAV).

Paths are interleaved batch by batch, so changing load on a shared machine hits them alike.
Before timing, the PyAV frames of 16 windows are compared with the HDF5 frames. Prints a
markdown table of windows/s (median over ``--repeats`` batches) with the ratio to PyAV.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine  # noqa: E402
from jepa_bench.convert.lerobot_meta import read_source  # noqa: E402
from jepa_bench.data.robot.arm_sim.dataset import CAMERA, ensure_sim_data  # noqa: E402
from jepa_bench.data.robot.loader import H5Frames  # noqa: E402
from jepa_bench.data.robot.task import RobotTask  # noqa: E402


class PyAVWindows:
    """Decodes window frames straight from the LeRobot mp4 files."""

    def __init__(self, lerobot_root: Path, ep_offset: np.ndarray, threads: int = 1) -> None:
        src = read_source(lerobot_root)
        self.fps = src.fps
        self.refs = [e.videos[CAMERA] for e in src.episodes]
        self.ep_offset = ep_offset
        self.threads = threads  # decoder threads; 0: FFmpeg's choice
        self.containers: dict[Path, av.container.InputContainer] = {}

    def _container(self, path: Path):
        if path not in self.containers:
            c = av.open(str(path))
            c.streams.video[0].codec_context.thread_count = self.threads
            self.containers[path] = c
        return self.containers[path]

    def window(self, rows: np.ndarray) -> np.ndarray:
        """Frames (T, H, W, 3) of global ``rows`` (one episode, increasing)."""
        ep = int(np.searchsorted(self.ep_offset, rows[0], side="right") - 1)
        ref = self.refs[ep]
        times = ref.from_ts + (rows - self.ep_offset[ep]) / self.fps
        c = self._container(ref.path)
        stream = c.streams.video[0]
        tb = stream.time_base or Fraction(1, 1)
        c.seek(int(times[0] / tb), stream=stream, backward=True, any_frame=False)
        half = 0.5 / self.fps
        out, k = [], 0
        for frame in c.decode(stream):
            t = float(frame.pts * tb)
            if t < times[k] - half:
                continue
            out.append(frame.to_ndarray(format="rgb24"))
            k += 1
            if k == len(times):
                break
        if k != len(times):
            raise RuntimeError(f"episode {ep}: the video ended before row {rows[k]}")
        return np.stack(out)

    def frames(self, rows: np.ndarray) -> np.ndarray:
        return np.stack([self.window(r) for r in rows])


def round_robin(paths: dict, n_batches: int) -> dict[str, float]:
    """Median seconds per batch of each path ``fn(i)``; every path reads batch i before i + 1.

    Interleaving spreads the load of a shared machine evenly over the paths. Batch 0 warms up.
    """
    times: dict[str, list[float]] = {name: [] for name in paths}
    for i in range(n_batches):
        for name, fn in paths.items():
            t = time.perf_counter()
            fn(i)
            if i:
                times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def cold_reader(path: Path):
    """A reader whose handle, and so its chunk cache, is closed before every batch."""
    reader = H5Frames(path, cache=False)

    def read(rows: np.ndarray) -> np.ndarray:
        reader.close()
        return reader.frames(rows)

    return read


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--data-dir", default=None, help="Cache folder (default: a temporary one).")
    ap.add_argument(
        "--rechunk",
        default="",
        help="Also time cold reads with the pixels rewritten in these chunkings, e.g. 16,4,1,raw "
        "(N: N-row LZF chunks; raw: 64-row chunks, no compression).",
    )
    args = ap.parse_args()
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="bench_loader_"))
    t0 = time.perf_counter()
    h5_path, built = ensure_sim_data(root, args.episodes, args.size, 1.0)
    setup = time.perf_counter() - t0
    task = RobotTask("arm_sim", "bench", h5_path)  # the task's default: cache="auto"
    train = task.train_set()
    rng = np.random.default_rng(0)
    picks = [rng.choice(len(train), args.batch, replace=False) for _ in range(args.repeats + 1)]
    rows = [train.starts[p][:, None] + np.arange(4) * 5 for p in picks]  # (B, T) frame rows

    # HDF5 shares one open dataset (and its chunk cache) between the handles of one file in a
    # process, so the cold paths read their own copies of the file.
    scratch = Path(tempfile.mkdtemp(prefix="bench_loader_copies_"))
    try:
        results, same = measure(args, h5_path, task, train, picks, rows, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    pyav = results["pyav decode of the mp4s"]
    n_rows = int(task.reader.n_rows)
    print(f"\nMachine: {machine()}")
    print(
        f"Data: arm_sim, {args.episodes} episodes, {n_rows} frames at {args.size}x{args.size}, "
        f"AV1 (crf 30, g 2) in LeRobot v3.0 files of 20 episodes; HDF5 LZF, 64-row chunks "
        f"({'generated' if built else 'cached'} in {setup:.1f} s)."
    )
    print(
        f"Random batches of {args.batch} windows (4 frames, frameskip 5), median of "
        f"{args.repeats} batches after one warm-up, paths interleaved batch by batch; PyAV and "
        f"HDF5 frames of 16 windows are "
        f"{same}.\n"
    )
    print("| path | s / batch | windows/s | vs PyAV |")
    print("|---|---:|---:|---:|")
    for name, s in results.items():
        print(f"| {name} | {s:.4f} | {args.batch / s:,.0f} | {pyav / s:.1f}x |")


def measure(args, h5_path, task, train, picks, rows, scratch: Path):
    """(median seconds per batch by path, whether PyAV and HDF5 frames agree)."""
    copies = {"hdf5, cold chunk cache (handle reopened per batch)": copy_file(h5_path, scratch)}
    for spec in filter(None, (x.strip() for x in args.rechunk.split(","))):
        copies[f"cold, pixels in {spec_label(spec)}"] = rechunk(h5_path, spec, scratch)
    warm, memory = H5Frames(h5_path, cache=False), H5Frames(h5_path, cache=True)
    video = PyAVWindows(h5_path.parent / "lerobot", task.reader.ep_offset)
    diff = np.abs(video.frames(rows[0][:16]).astype(int) - warm.frames(rows[0][:16])).max()
    same = "identical" if diff == 0 else f"different (up to {diff} levels)"
    memory.load()
    by_rows = {
        **{name: cold_reader(path) for name, path in copies.items()},
        "hdf5 (256 MiB chunk cache)": warm.frames,
        "hdf5, in memory": memory.frames,
        "pyav decode of the mp4s": video.frames,
    }
    paths = {name: (lambda i, fn=fn: fn(rows[i])) for name, fn in by_rows.items()}
    where = "in memory" if task.reader.cached else "from the file"
    paths[f"task batch(): float32 obs + actions ({where})"] = lambda i: train.batch(picks[i])
    return round_robin(paths, len(rows)), same


def spec_label(spec: str) -> str:
    return "64-row chunks, no compression" if spec == "raw" else f"{spec}-row LZF chunks"


def copy_file(path: Path, folder: Path) -> Path:
    out = folder / f"{path.stem}.copy.h5"
    shutil.copyfile(path, out)
    return out


def rechunk(path: Path, spec: str, folder: Path) -> Path:
    """A copy of ``path`` in ``folder`` with the pixels in another chunking (``--rechunk``)."""
    out = folder / f"{path.stem}.rechunk-{spec}.h5"
    with h5py.File(path, "r") as src, h5py.File(out, "w") as dst:
        for name, ds in src.items():
            if name != "pixels":
                src.copy(ds, dst, name)
                continue
            rows = 64 if spec == "raw" else int(spec)
            kw = {} if spec == "raw" else {"compression": "lzf"}
            dst.create_dataset(name, data=ds[:], chunks=(rows, *ds.shape[1:]), **kw)
    return out


if __name__ == "__main__":
    main()
