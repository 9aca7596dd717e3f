"""Small LeRobot datasets for the converter's tests, with frames that say where they came from.

Every frame carries a 3 x 4 grid of black/white blocks: 3 bits of episode index, 7 bits of frame
index and 2 bits of camera index. The blocks survive lossy AV1/h264 coding and resizing, so a test
can decode each HDF5 frame back to its source (episode, frame, camera).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jepa_bench.convert.lerobot_writer import VideoEncoder, write_lerobot_dataset

GRID = (3, 4)
BITS = {"episode": 3, "frame": 7, "camera": 2}
CAMERAS = ("observation.images.laptop", "observation.images.phone")
# SVT-AV1 presets above 10 may corrupt tiny frames; 8 keeps every block intact and is fast enough.
FAST = {
    "libsvtav1": {"preset": "8"},
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
}


def identity_frame(episode: int, frame: int, camera: int = 0, hw: tuple[int, int] = (48, 64)):
    """An (H, W, 3) uint8 frame whose block pattern encodes (episode, frame, camera)."""
    value = (episode % 8) | ((frame % 128) << 3) | ((camera % 4) << 10)
    bits = [(value >> i) & 1 for i in range(GRID[0] * GRID[1])]
    grid = np.array(bits, dtype=np.uint8).reshape(GRID) * 255
    h, w = hw
    rows = np.minimum(np.arange(h) * GRID[0] // h, GRID[0] - 1)
    cols = np.minimum(np.arange(w) * GRID[1] // w, GRID[1] - 1)
    img = grid[rows][:, cols]  # img: (H, W)
    return np.repeat(img[:, :, None], 3, axis=2)


def decode_identity(img: np.ndarray, box: tuple[int, int, int, int] | None = None):
    """(episode, frame, camera) read from the block pattern inside ``box`` = (y0, x0, y1, x1)."""
    y0, x0, y1, x1 = box or (0, 0, img.shape[0], img.shape[1])
    gray = img[y0:y1, x0:x1].astype(np.float64).mean(axis=2)
    h, w = gray.shape
    value = 0
    for r in range(GRID[0]):
        for c in range(GRID[1]):
            cy, cx = int((r + 0.5) * h / GRID[0]), int((c + 0.5) * w / GRID[1])
            ry, rx = max(1, h // (GRID[0] * 6)), max(1, w // (GRID[1] * 6))
            patch = gray[cy - ry : cy + ry + 1, cx - rx : cx + rx + 1]
            value |= int(patch.mean() > 127) << (r * GRID[1] + c)
    return value & 7, (value >> 3) & 127, (value >> 10) & 3


def row_values(episode: int, n: int, width: int = 6, offset: float = 0.0) -> np.ndarray:
    """(n, width) float32 values that identify the row: episode * 1000 + frame + j / 10."""
    frame = np.arange(n)[:, None]
    return (episode * 1000 + frame + np.arange(width)[None, :] / 10 + offset).astype(np.float32)


def make_episode(
    episode: int,
    n: int,
    cameras: int = 1,
    hw: tuple[int, int] = (48, 64),
    done: bool = False,
) -> dict[str, Any]:
    """One episode dict for ``write_lerobot_dataset``."""
    ep: dict[str, Any] = {
        CAMERAS[c]: np.stack([identity_frame(episode, f, c, hw) for f in range(n)])
        for c in range(cameras)
    }
    ep["action"] = row_values(episode, n)
    ep["observation.state"] = row_values(episode, n, offset=0.5)
    if done:
        ep["next.done"] = np.arange(n) == n - 1
    ep["task"] = "pick the brick" if episode % 2 == 0 else "place the brick"
    return ep


def build_dataset(
    root: Path,
    version: str = "v3.0",
    codec: str = "libsvtav1",
    lengths: tuple[int, ...] = (12, 17, 9, 14),
    cameras: int = 1,
    hw: tuple[int, int] = (48, 64),
    done: bool = False,
    episodes_per_file: int | None = None,
) -> Path:
    """Write a LeRobot dataset of ``len(lengths)`` episodes with identity frames."""
    eps = [make_episode(i, n, cameras, hw, done) for i, n in enumerate(lengths)]
    return write_lerobot_dataset(
        root, eps, fps=30, version=version, codec=codec,
        camera_keys=list(CAMERAS[:cameras]), encoder_options=FAST[codec],
        episodes_per_file=episodes_per_file, robot_type="koch",
    )  # fmt: skip


def encode_frames(path: Path, frames, fps: int = 30, codec: str = "libx264", pts=None) -> None:
    """Replace ``path`` with an mp4 of ``frames``; ``pts`` (in frames) can leave gaps."""
    path.unlink(missing_ok=True)
    with VideoEncoder(path, fps, codec, options=FAST[codec]) as enc:
        for i, frame in enumerate(frames):
            enc.write(frame, None if pts is None else pts[i])


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def edit_json(path: Path, fn: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def edit_parquet(path: Path, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite a parquet file through ``fn`` (keeps list columns as lists)."""
    df = pq.read_table(path).to_pandas()
    pq.write_table(pa.Table.from_pandas(fn(df), preserve_index=False), path)


def edit_episodes_jsonl(root: Path, fn: Callable[[list[dict]], list[dict]]) -> None:
    path = root / "meta" / "episodes.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    path.write_text("".join(json.dumps(r) + "\n" for r in fn(rows)))


def v3_episodes_meta(root: Path) -> Path:
    return root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"


def v3_video(root: Path, camera: str = CAMERAS[0], file_index: int = 0) -> Path:
    return root / "videos" / camera / "chunk-000" / f"file-{file_index:03d}.mp4"


def v3_data(root: Path, file_index: int = 0) -> Path:
    return root / "data" / "chunk-000" / f"file-{file_index:03d}.parquet"


def v2_video(root: Path, episode: int, camera: str = CAMERAS[0]) -> Path:
    return root / "videos" / "chunk-000" / camera / f"episode_{episode:06d}.mp4"


def v2_data(root: Path, episode: int) -> Path:
    return root / "data" / "chunk-000" / f"episode_{episode:06d}.parquet"


def break_codec(path: Path) -> None:
    """Rename the codec's sample entry in an mp4 so that no decoder is found for it."""
    data = path.read_bytes()
    for tag in (b"avc1", b"av01", b"hvc1", b"hev1"):
        data = data.replace(tag, b"zzzz")
    path.write_bytes(data)


def assert_frames_match_sources(h5, key="pixels", camera=0, box=None):
    """Every frame decodes to (episode_idx, step_idx, camera) of its row."""
    ep, step = h5.episode_idx, h5.columns["step_idx"][:]
    px = h5.columns[key][:]
    got = [decode_identity(px[i], box) for i in range(len(px))]
    want = [(int(e), int(s), camera) for e, s in zip(ep, step, strict=True)]
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, f"{len(bad)} frames from the wrong source, first: {bad[:3]}"
