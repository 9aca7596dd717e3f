"""Write LeRobot v2.1 or v3.0 datasets from numpy frames and per-frame columns, with PyAV.

Used to build test fixtures and by simulated tasks that record real LeRobot datasets::

    write_lerobot_dataset(root, [{"observation.images.top": frames,   # (T, H, W, 3) uint8
                                  "action": actions,                  # (T, A)
                                  "observation.state": states,        # (T, S)
                                  "task": "pick the cube"}], fps=30)

Frames may also be any iterable of (H, W, 3) uint8 arrays, so long episodes are never held in
memory. v3.0 appends several episodes to one parquet and one mp4 per camera (``episodes_per_file``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jepa_bench.convert.lerobot_writer_meta import FeatureStats, write_meta

CODEC_NAMES = {"libsvtav1": "av1", "libaom-av1": "av1", "libx264": "h264", "libx265": "hevc"}
V2_DATA = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V2_VIDEO = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
V3_DATA = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
V3_VIDEO = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
CHUNKS_SIZE = 1000


class VideoEncoder:
    """Append (H, W, 3) uint8 frames to an mp4 at ``fps``; pts count frames unless given."""

    def __init__(
        self,
        path: str | Path,
        fps: float,
        codec: str = "libsvtav1",
        crf: int = 30,
        gop: int = 2,
        pix_fmt: str = "yuv420p",
        options: Mapping[str, str] | None = None,
    ) -> None:
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole config otherwise
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.codec, self.crf, self.gop, self.pix_fmt = codec, crf, gop, pix_fmt
        self.options = {"crf": str(crf), "g": str(gop), **(options or {})}
        self.container = av.open(str(self.path), "w")
        self.stream: Any = None
        self.n_frames = 0

    def _open_stream(self, h: int, w: int) -> None:
        self.stream = self.container.add_stream(self.codec, rate=self.fps)
        self.stream.width, self.stream.height = w, h
        self.stream.pix_fmt = self.pix_fmt
        self.stream.time_base = 1 / self.fps
        self.stream.options = dict(self.options)

    def write(self, frame: np.ndarray, pts: int | None = None) -> None:
        """Encode one frame (H, W, 3) uint8; ``pts`` in frames (default: the frame count)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        if self.stream is None:
            self._open_stream(frame.shape[0], frame.shape[1])
        elif (frame.shape[0], frame.shape[1]) != (self.stream.height, self.stream.width):
            raise ValueError(f"{self.path}: frame size changed to {frame.shape[:2]}")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.n_frames if pts is None else int(pts)
        vf.time_base = 1 / self.fps
        for packet in self.stream.encode(vf):
            self.container.mux(packet)
        self.n_frames += 1

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _column(values: np.ndarray) -> pa.Array:
    if values.ndim == 1:
        return pa.array(values)
    flat = pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


def _split_episode(
    ep: Mapping[str, Any], camera_keys: Sequence[str]
) -> tuple[dict[str, np.ndarray], str]:
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


def _feature(arr: np.ndarray, names: Sequence[str] | None) -> dict[str, Any]:
    shape = [1] if arr.ndim == 1 else [int(arr.shape[1])]
    dtype = {"f": "float32", "i": "int64", "u": "int64", "b": "bool"}[arr.dtype.kind]
    return {"dtype": dtype, "shape": shape, "names": list(names) if names else None}


class LeRobotWriter:
    """Writes a LeRobot dataset one episode at a time; ``finish()`` writes the metadata."""

    def __init__(
        self,
        root: str | Path,
        fps: int = 30,
        version: str = "v3.0",
        codec: str = "libsvtav1",
        camera_keys: Sequence[str] | None = None,
        robot_type: str = "unknown",
        crf: int = 30,
        gop: int = 2,
        encoder_options: Mapping[str, str] | None = None,
        episodes_per_file: int | None = None,
        feature_names: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if version not in ("v2.1", "v3.0"):
            raise ValueError(f"version must be 'v2.1' or 'v3.0', got {version!r}")
        self.root = Path(root)
        if (self.root / "meta" / "info.json").exists():
            raise FileExistsError(f"{self.root} already holds a dataset")
        self.fps, self.version, self.codec = fps, version, codec
        self.cams = list(camera_keys) if camera_keys is not None else None
        self.robot_type = robot_type
        self.crf, self.gop, self.encoder_options = crf, gop, encoder_options
        self.per_file = episodes_per_file if version == "v3.0" else 1
        self.names = dict(feature_names or {})
        self.tasks: dict[str, int] = {}
        self.stats = FeatureStats()
        self.episodes: list[dict[str, Any]] = []
        self.features: dict[str, Any] = {}
        self.frame_hw: dict[str, tuple[int, int]] = {}
        self.n_rows = 0
        self.file_index = 0
        self._tables: list[pa.Table] = []  # v3.0: rows of the shared parquet file being filled
        self._encoders: dict[str, VideoEncoder] = {}  # v3.0: the shared mp4 of each camera

    def abort(self) -> None:
        """Close the open video files after a failure; their errors are ignored (the dataset is
        incomplete anyway, and the first error is the one worth reporting)."""
        for enc in self._encoders.values():
            try:
                enc.container.close()
            except Exception:
                pass
        self._encoders.clear()

    def _flush_file(self) -> None:
        for enc in self._encoders.values():
            enc.close()
        self._encoders.clear()
        if self._tables:
            path = self.root / V3_DATA.format(chunk_index=0, file_index=self.file_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.concat_tables(self._tables), path)
        self._tables.clear()

    def _new_encoder(self, path: Path) -> VideoEncoder:
        return VideoEncoder(
            path, self.fps, self.codec, crf=self.crf, gop=self.gop, options=self.encoder_options
        )

    def _encoder(self, cam: str, ep_index: int) -> VideoEncoder:
        if self.version == "v2.1":
            rel = V2_VIDEO.format(episode_chunk=0, video_key=cam, episode_index=ep_index)
            self._encoders[cam] = self._new_encoder(self.root / rel)  # closed after the episode
            return self._encoders[cam]
        if cam not in self._encoders:
            rel = V3_VIDEO.format(video_key=cam, chunk_index=0, file_index=self.file_index)
            self._encoders[cam] = self._new_encoder(self.root / rel)
        return self._encoders[cam]

    def add_episode(self, ep: Mapping[str, Any]) -> None:
        """Append one episode (see ``write_lerobot_dataset`` for what it holds)."""
        if self.cams is None:
            self.cams = [k for k in ep if k.startswith("observation.images.")]
        ep_index = len(self.episodes)
        cols, task = _split_episode(ep, self.cams)
        n = len(next(iter(cols.values())))
        task_index = self.tasks.setdefault(task, len(self.tasks))
        if self.version == "v3.0" and self.per_file and ep_index and ep_index % self.per_file == 0:
            self._flush_file()
            self.file_index += 1
        table = {
            **cols,
            "timestamp": (np.arange(n) / self.fps).astype(np.float32),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, ep_index, dtype=np.int64),
            "index": np.arange(self.n_rows, self.n_rows + n, dtype=np.int64),
            "task_index": np.full(n, task_index, dtype=np.int64),
        }
        for key, arr in table.items():
            self.features.setdefault(key, _feature(arr, self.names.get(key)))
            self.stats.add_column(ep_index, key, arr)
        meta: dict[str, Any] = {"episode_index": ep_index, "tasks": [task], "length": n}
        for cam in self.cams:
            enc = self._encoder(cam, ep_index)
            start = enc.n_frames
            for frame in ep[cam]:
                enc.write(frame)
                self.stats.add_frame(ep_index, cam, frame)
                self.frame_hw.setdefault(cam, frame.shape[:2])
            if enc.n_frames - start != n:
                got = enc.n_frames - start
                raise ValueError(f"episode {ep_index}: {cam} has {got} frames for {n} rows")
            if self.version == "v2.1":
                self._encoders.pop(cam).close()
                continue
            meta[f"videos/{cam}/chunk_index"] = 0
            meta[f"videos/{cam}/file_index"] = self.file_index
            meta[f"videos/{cam}/from_timestamp"] = start / self.fps
            meta[f"videos/{cam}/to_timestamp"] = (start + n) / self.fps
        tbl = pa.table({k: _column(v) for k, v in table.items()})
        if self.version == "v2.1":
            path = self.root / V2_DATA.format(episode_chunk=0, episode_index=ep_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(tbl, path)
        else:
            self._tables.append(tbl)
            meta["data/chunk_index"], meta["data/file_index"] = 0, self.file_index
            meta["dataset_from_index"], meta["dataset_to_index"] = self.n_rows, self.n_rows + n
            meta["meta/episodes/chunk_index"], meta["meta/episodes/file_index"] = 0, 0
        self.episodes.append(meta)
        self.n_rows += n

    def finish(self) -> Path:
        """Close the shared files and write ``meta/`` (``info.json`` last)."""
        if not self.episodes:
            raise ValueError("no episodes written")
        self._flush_file()
        for cam in self.cams or []:
            h, w = self.frame_hw[cam]
            self.features[cam] = {
                "dtype": "video",
                "shape": [h, w, 3],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.height": h, "video.width": w,
                    "video.codec": CODEC_NAMES.get(self.codec, self.codec),
                    "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                    "video.fps": self.fps, "video.channels": 3, "has_audio": False,
                },
            }  # fmt: skip
        v2 = self.version == "v2.1"
        info = {
            "codebase_version": self.version,
            "robot_type": self.robot_type,
            "total_episodes": len(self.episodes),
            "total_frames": self.n_rows,
            "total_tasks": len(self.tasks),
            "chunks_size": CHUNKS_SIZE,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"},
            "data_path": V2_DATA if v2 else V3_DATA,
            "video_path": V2_VIDEO if v2 else V3_VIDEO,
            "features": self.features,
        }
        if v2:
            info.update(total_videos=len(self.episodes) * len(self.cams or []), total_chunks=1)
        else:
            info.update(data_files_size_in_mb=100, video_files_size_in_mb=500)
        write_meta(self.root, self.version, self.stats, self.episodes, self.tasks)
        (self.root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
        return self.root


def write_lerobot_dataset(
    root: str | Path,
    episodes: Iterable[Mapping[str, Any]],
    fps: int = 30,
    version: str = "v3.0",
    codec: str = "libsvtav1",
    camera_keys: Sequence[str] | None = None,
    **kwargs: Any,
) -> Path:
    """Write ``episodes`` as a LeRobot ``version`` ("v2.1" or "v3.0") dataset under ``root``.

    Each episode maps feature names to per-frame values: cameras (``camera_keys``, default the
    keys starting with ``observation.images.``) to (T, H, W, 3) uint8 frames or an iterable of
    frames; other keys to (T,) or (T, K) arrays (float -> float32, int -> int64, bool); optional
    ``"task"`` to a string. Further keyword arguments go to ``LeRobotWriter`` (``crf``, ``gop``,
    ``encoder_options``, ``episodes_per_file``, ``feature_names``, ``robot_type``).
    """
    writer = LeRobotWriter(root, fps, version, codec, camera_keys, **kwargs)
    try:
        for ep in episodes:
            writer.add_episode(ep)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
