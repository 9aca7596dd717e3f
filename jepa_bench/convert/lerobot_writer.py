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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jepa_bench.convert.lerobot_parts import (
    CHUNKS_SIZE,
    V2_DATA,
    V2_VIDEO,
    V3_DATA,
    V3_VIDEO,
    EncodedEpisode,
    encode_part,
    split_episode,
)
from jepa_bench.convert.lerobot_writer_meta import FeatureStats, write_meta
from jepa_bench.convert.video_encoder import CODEC_NAMES, VideoEncoder
from jepa_bench.workers import ordered_map, resolve_workers


def _column(values: np.ndarray) -> pa.Array:
    if values.ndim == 1:
        return pa.array(values)
    flat = pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


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
            enc.abort()
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
        cols, task = split_episode(ep, self.cams)
        n = len(next(iter(cols.values())))
        self._next_file(ep_index)
        videos: dict[str, tuple[int, int]] = {}
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
            videos[cam] = (start, n)
        self._add_rows(ep_index, cols, task, videos)

    def add_encoded_episode(self, part: EncodedEpisode) -> None:
        """Append an episode whose video frames are already in this dataset's current v3.0 file
        (written by ``encode_part`` for the same file index); only its rows are written here."""
        if self.version != "v3.0" or self.cams is None:
            raise ValueError("encoded episodes need a v3.0 writer with camera_keys")
        ep_index = len(self.episodes)
        self._next_file(ep_index)
        if part.file_index != self.file_index:
            raise ValueError(
                f"episode {ep_index} was encoded into file {part.file_index}, "
                f"but rows go to file {self.file_index}"
            )
        self.stats.merge_frames(ep_index, part.frame_stats)
        for cam, hw in part.frame_hw.items():
            self.frame_hw.setdefault(cam, hw)
        self._add_rows(ep_index, part.columns, part.task, part.videos)

    def _next_file(self, ep_index: int) -> None:
        """v3.0: close the shared files and move to the next one when this one is full."""
        if self.version == "v3.0" and self.per_file and ep_index and ep_index % self.per_file == 0:
            self._flush_file()
            self.file_index += 1

    def _add_rows(
        self,
        ep_index: int,
        cols: dict[str, np.ndarray],
        task: str,
        videos: Mapping[str, tuple[int, int]],
    ) -> None:
        """The episode's parquet rows, column stats and episode-table entry.

        ``videos``: camera -> (first frame in its mp4, frame count).
        """
        n = len(next(iter(cols.values())))
        task_index = self.tasks.setdefault(task, len(self.tasks))
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
        tbl = pa.table({k: _column(v) for k, v in table.items()})
        if self.version == "v2.1":
            path = self.root / V2_DATA.format(episode_chunk=0, episode_index=ep_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(tbl, path)
        else:
            for cam, (start, _count) in videos.items():
                meta[f"videos/{cam}/chunk_index"] = 0
                meta[f"videos/{cam}/file_index"] = self.file_index
                meta[f"videos/{cam}/from_timestamp"] = start / self.fps
                meta[f"videos/{cam}/to_timestamp"] = (start + n) / self.fps
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


def _encode_job(
    make_episode: Callable[[int], Mapping[str, Any]],
    lo: int,
    hi: int,
    root: Path,
    file_index: int,
    camera_keys: Sequence[str],
    fps: int,
    codec: str,
    encoder: Mapping[str, Any],
) -> list[EncodedEpisode]:
    episodes = (make_episode(i) for i in range(lo, hi))
    return encode_part(root, file_index, episodes, camera_keys, fps, codec, **encoder)


def write_lerobot_dataset_parallel(
    root: str | Path,
    make_episode: Callable[[int], Mapping[str, Any]],
    n_episodes: int,
    camera_keys: Sequence[str],
    *,
    episodes_per_file: int,
    workers: int | None = None,
    fps: int = 30,
    codec: str = "libsvtav1",
    crf: int = 30,
    gop: int = 2,
    encoder_options: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Path:
    """A v3.0 dataset of ``make_episode(0..n_episodes-1)``, its mp4 files encoded in parallel.

    Each file of ``episodes_per_file`` episodes is made and encoded by one of ``workers``
    processes (default: one per usable core); the rows and ``meta/`` are written here, in episode
    order. The dataset is the one ``write_lerobot_dataset`` writes with the same settings, byte for
    byte, whatever the number of workers (the encoder runs with the same settings per file).
    ``make_episode`` must be picklable (a module-level function or a ``functools.partial`` of one).
    """
    root = Path(root)
    writer = LeRobotWriter(
        root, fps, "v3.0", codec, camera_keys, crf=crf, gop=gop,
        encoder_options=encoder_options, episodes_per_file=episodes_per_file, **kwargs,
    )  # fmt: skip
    encoder = {"crf": crf, "gop": gop, "encoder_options": encoder_options}
    starts = range(0, n_episodes, episodes_per_file)
    jobs = [
        (make_episode, lo, min(lo + episodes_per_file, n_episodes), root, k, list(camera_keys),
         fps, codec, encoder)
        for k, lo in enumerate(starts)
    ]  # fmt: skip
    try:
        for part in ordered_map(_encode_job, jobs, resolve_workers(workers, len(jobs))):
            for ep in part:
                writer.add_encoded_episode(ep)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
