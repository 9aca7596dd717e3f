"""Random windows per second: HDF5 (``jepa_bench.data.robot``) against PyAV decoding of the mp4s.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_loader.py [--episodes 100] [--size 64]
       [--batch 128] [--repeats 5] [--data-dir DIR]

Builds (or reuses, in ``--data-dir``) an ``arm_sim`` dataset: a LeRobot v3.0 folder (AV1 mp4,
several episodes per file) and its HDF5 conversion. Draws random batches of ``--batch`` training
windows (frameskip 5, 4 frames) and reads the same windows through each path:

- ``hdf5, cold``: the file is re-opened before each batch, so every chunk a batch touches is
  decompressed (what a file larger than the chunk cache costs);
- ``hdf5``: ``H5Frames.frames`` on the file, 256 MiB chunk cache (warm after the first batches);
- ``hdf5, in memory``: the optional whole-file cache;
- ``hdf5 -> Batch``: the task's ``batch()`` (frames to float32 (B, T, 3, H, W), action blocks);
- ``pyav``: per window, seek in the episode's mp4 to the first frame and decode up to the last,
  keeping the 4 frames as RGB arrays (containers stay open across windows, which favours PyAV).

Before timing, the PyAV frames of one batch are compared with the HDF5 frames. Prints a markdown
table of windows/s (median over ``--repeats`` batches) with the ratio to PyAV.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine  # noqa: E402
from jepa_bench.convert.lerobot_meta import read_source  # noqa: E402
from jepa_bench.data.robot.arm_sim.dataset import CAMERA, ensure_sim_data  # noqa: E402
from jepa_bench.data.robot.loader import H5Frames  # noqa: E402
from jepa_bench.data.robot.task import RobotTask  # noqa: E402


class PyAVWindows:
    """Decodes window frames straight from the LeRobot mp4 files."""

    def __init__(self, lerobot_root: Path, ep_offset: np.ndarray) -> None:
        src = read_source(lerobot_root)
        self.fps = src.fps
        self.refs = [e.videos[CAMERA] for e in src.episodes]
        self.ep_offset = ep_offset
        self.containers: dict[Path, av.container.InputContainer] = {}

    def _container(self, path: Path):
        if path not in self.containers:
            self.containers[path] = av.open(str(path))
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


def timed(fn, batches: list[np.ndarray]) -> float:
    """Median seconds per batch over ``batches`` (after one warm-up batch)."""
    fn(batches[0])
    times = []
    for b in batches[1:]:
        t = time.perf_counter()
        fn(b)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", default=None, help="Cache folder (default: a temporary one).")
    args = ap.parse_args()
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="bench_loader_"))
    t0 = time.perf_counter()
    h5_path, built = ensure_sim_data(root, args.episodes, args.size, 1.0)
    setup = time.perf_counter() - t0
    task = RobotTask("arm_sim", "bench", h5_path, cache=False)
    train = task.train_set()
    rng = np.random.default_rng(0)
    picks = [rng.choice(len(train), args.batch, replace=False) for _ in range(args.repeats + 1)]
    rows = [train.starts[p][:, None] + np.arange(4) * 5 for p in picks]  # (B, T) frame rows

    # HDF5 shares one open dataset (and its chunk cache) between the handles of a process, so
    # the cold reader is timed first, closing its handle (and cache) before every batch.
    cold = H5Frames(h5_path, cache=False)

    def cold_frames(r: np.ndarray) -> np.ndarray:
        cold.close()
        return cold.frames(r)

    results = {"hdf5, cold chunk cache (file reopened per batch)": timed(cold_frames, rows)}
    cold.close()
    readers = {
        "hdf5": H5Frames(h5_path, cache=False),
        "hdf5, in memory": H5Frames(h5_path, cache=True),
    }
    video = PyAVWindows(h5_path.parent / "lerobot", task.reader.ep_offset)
    ref = readers["hdf5"].frames(rows[0][:16])
    diff = np.abs(video.frames(rows[0][:16]).astype(int) - ref).max()
    if diff > 0:
        print(f"note: PyAV frames differ from the HDF5 frames by up to {diff} levels")
    readers["hdf5, in memory"].load()
    for name, reader in readers.items():
        results[name] = timed(reader.frames, rows)
    results["hdf5 -> Batch (float32 obs + actions)"] = timed(train.batch, picks)
    results["pyav decode of the mp4s"] = timed(video.frames, rows)
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
        f"{args.repeats} batches after one warm-up.\n"
    )
    print("| path | s / batch | windows/s | vs PyAV |")
    print("|---|---:|---:|---:|")
    for name, s in results.items():
        print(f"| {name} | {s:.4f} | {args.batch / s:,.0f} | {pyav / s:.1f}x |")


if __name__ == "__main__":
    main()
