"""Pieces of a LeRobot dataset being written: path templates, episode columns, encoded parts.

A v3.0 dataset shares one mp4 per camera among ``episodes_per_file`` episodes. ``encode_part``
writes the videos of one such file on its own (so several files can be encoded by several
processes) and returns what ``LeRobotWriter.add_encoded_episode`` needs to add the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jepa_bench.convert.lerobot_writer_meta import FeatureStats
from jepa_bench.convert.video_encoder import VideoEncoder

V2_DATA = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V2_VIDEO = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
V3_DATA = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
V3_VIDEO = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
CHUNKS_SIZE = 1000


@dataclass(frozen=True)
class EncodedEpisode:
    """An episode whose frames were encoded into v3.0 file ``file_index``."""

    file_index: int
    columns: dict[str, np.ndarray]  # per-frame columns, cameras and task left out
    task: str
    videos: dict[str, tuple[int, int]]  # camera -> (first frame in the mp4, frame count)
    frame_hw: dict[str, tuple[int, int]]
    frame_stats: dict[str, list[np.ndarray]]  # camera -> FeatureStats frame accumulators


def split_episode(
    ep: Mapping[str, Any], camera_keys: Sequence[str]
) -> tuple[dict[str, np.ndarray], str]:
    """An episode's per-frame columns (cameras and ``task`` left out) and its task string."""
    cols: dict[str, np.ndarray] = {}
    for key, value in ep.items():
        if key in camera_keys or key == "task":
            continue
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind != "b":
            raise ValueError(f"column {key!r}: unsupported dtype {arr.dtype}")
        if arr.ndim not in (1, 2):
            raise ValueError(f"column {key!r} must be (T,) or (T, K), got {arr.shape}")
        cols[key] = arr
    lengths = {k: len(v) for k, v in cols.items()}
    if not cols or len(set(lengths.values())) != 1:
        raise ValueError(f"per-frame columns must be non-empty and of one length, got {lengths}")
    return cols, str(ep.get("task", "task"))


def encode_part(
    root: str | Path,
    file_index: int,
    episodes: Iterable[Mapping[str, Any]],
    camera_keys: Sequence[str],
    fps: int,
    codec: str = "libsvtav1",
    crf: int = 30,
    gop: int = 2,
    encoder_options: Mapping[str, str] | None = None,
) -> list[EncodedEpisode]:
    """Encode ``episodes`` into the mp4s of v3.0 file ``file_index`` under ``root``."""
    out: list[EncodedEpisode] = []
    encoders: dict[str, VideoEncoder] = {}
    try:
        for j, ep in enumerate(episodes):
            cols, task = split_episode(ep, camera_keys)
            n = len(next(iter(cols.values())))
            stats = FeatureStats()
            hw: dict[str, tuple[int, int]] = {}
            videos: dict[str, tuple[int, int]] = {}
            for cam in camera_keys:
                if cam not in encoders:
                    rel = V3_VIDEO.format(video_key=cam, chunk_index=0, file_index=file_index)
                    encoders[cam] = VideoEncoder(
                        Path(root) / rel, fps, codec, crf=crf, gop=gop, options=encoder_options
                    )
                enc = encoders[cam]
                start = enc.n_frames
                for frame in ep[cam]:
                    enc.write(frame)
                    stats.add_frame(j, cam, frame)
                    hw.setdefault(cam, frame.shape[:2])
                if enc.n_frames - start != n:
                    got = enc.n_frames - start
                    raise ValueError(f"episode {j} of file {file_index}: {cam} has {got} frames")
                videos[cam] = (start, n)
            out.append(EncodedEpisode(file_index, cols, task, videos, hw, stats.frames(j)))
        for enc in encoders.values():
            enc.close()
    except BaseException:
        for enc in encoders.values():
            enc.abort()
        raise
    return out
