"""A robot task over one LeWM-layout HDF5 file: episode split, windows and the linear probes.

Shared by ``koch_pick_place`` (real recordings) and ``arm_sim`` (the offline simulator), which
differ only in where the file comes from.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from jepa_bench.data.base import ProbeSuite, TaskSpec
from jepa_bench.data.hashing import DATA_HASH_KEY, update_array
from jepa_bench.data.robot.loader import FLOAT_COLUMNS, H5Frames
from jepa_bench.data.robot.split import SPLIT_SEED, TRAIN_SPLIT, split_episodes
from jepa_bench.data.robot.windows import (
    Normaliser,
    RobotWindows,
    WindowShape,
    episode_rows,
    tiling_starts,
    window_starts,
)

PROBE_TARGETS = FLOAT_COLUMNS  # ("action", "proprio", "state"), those the file has


def data_fingerprint(reader: H5Frames) -> str:
    """12 hex digits that change whenever the file's episodes, actions or frame size change."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(reader.ep_len).tobytes())
    h.update(np.ascontiguousarray(reader.columns["action"]).tobytes())
    h.update(repr((reader.pixel_key, reader.source_shape)).encode())
    return h.hexdigest()[:12]


def frames_sha256(reader: H5Frames, block: int = 1024) -> str:
    """Hex SHA-256 of the episode table, the float columns and every frame (at the size the task
    reads them): the content the task trains and evaluates on, not the file's bytes (whose
    attributes hold creation times)."""
    h = hashlib.sha256()
    update_array(h, "ep_len", reader.ep_len)
    for name in sorted(reader.columns):
        update_array(h, name, reader.columns[name])
    if reader.cached:
        update_array(h, "frames", reader.load())
    else:
        for lo in range(0, reader.n_rows, block):
            rows = np.arange(lo, min(reader.n_rows, lo + block))[None]  # (1, block)
            update_array(h, f"frames[{lo}]", reader.frames(rows)[0])
    return h.hexdigest()


class RobotTask:
    """Windows of an HDF5 robot dataset, split by episode; probes from latents to columns.

    ``version_with_data``: append ``+<data_fingerprint>`` to ``version`` (for tasks whose file
    is chosen by the user). ``probe_stride``: rows between the starts of consecutive probe
    windows; by default (None) probe windows tile the episodes so that every frame is probed
    exactly once (``windows.tiling_starts``).
    """

    def __init__(
        self,
        name: str,
        version: str,
        h5_path: str | Path,
        *,
        budget: str = "default",
        seed: int = 0,
        pixels: str | None = None,
        image_size: int | None = None,
        frameskip: int = 5,
        history_size: int = 3,
        num_preds: int = 1,
        train_split: float = TRAIN_SPLIT,
        split_seed: int = SPLIT_SEED,
        cache: bool | str = "auto",
        probe_stride: int | None = None,
        provenance: dict[str, Any] | None = None,
        version_with_data: bool = False,
    ) -> None:
        self.budget, self.seed = budget, seed
        self.shape = WindowShape(frameskip, history_size, num_preds)
        if image_size is not None and (isinstance(image_size, bool) or int(image_size) < 8):
            raise ValueError(f"image_size must be an integer >= 8, got {image_size!r}")
        self.reader = H5Frames(h5_path, pixels=pixels, cache=cache, size=image_size)
        r = self.reader
        if r.frame_shape[-1] != 3:
            raise ValueError(
                f"{r.path}: {r.pixel_key} has {r.frame_shape[-1]} channels; RGB (H, W, 3) expected"
            )
        self.train_eps, self.val_eps = split_episodes(len(r.ep_len), train_split, split_seed)
        self.train_split, self.split_seed = train_split, split_seed
        span = self.shape.span
        if probe_stride is not None and (isinstance(probe_stride, bool) or int(probe_stride) < 1):
            raise ValueError(f"probe_stride must be a positive integer, got {probe_stride!r}")
        self.probe_stride = None if probe_stride is None else int(probe_stride)
        long_enough = r.ep_len >= span
        for side, eps in (("training", self.train_eps), ("validation", self.val_eps)):
            if not long_enough[eps].any():
                raise ValueError(
                    f"{r.path}: no {side} episode has the {span} rows a window needs "
                    f"(frameskip {frameskip} x {self.shape.seq_len} frames); the longest has "
                    f"{int(r.ep_len[eps].max())}"
                )
        self.norm = Normaliser.fit(r.columns, episode_rows(r.ep_offset, r.ep_len, self.train_eps))
        self.targets = tuple(t for t in PROBE_TARGETS if t in r.columns)
        h, w = r.frame_shape[:2]
        self.image_size = image_size
        a_raw = r.columns["action"].shape[1]
        if version_with_data:
            version = f"{version}+{data_fingerprint(r)}"
        self.spec = TaskSpec(
            name=name,
            version=version,
            obs_shape=(3, h, w),
            action_dim=frameskip * a_raw,
            seq_len=self.shape.seq_len,
            channel_groups={"rgb": (0, 1, 2)},
            proprio_dim=int(r.columns["proprio"].shape[1]) if "proprio" in r.columns else 0,
        )
        self.provenance = dict(provenance or {})
        self._sets: dict[str, RobotWindows] = {}
        self._data_sha: str | None = None

    def windows(self, split: str) -> RobotWindows:
        """``train`` (every start, no targets), ``probe_train`` or ``val`` (probe windows)."""
        if split not in self._sets:
            r = self.reader
            eps, stride, targets = {
                "train": (self.train_eps, 1, ()),
                "probe_train": (self.train_eps, self.probe_stride, self.targets),
                "val": (self.val_eps, self.probe_stride, self.targets),
            }[split]
            if stride is None:
                starts = tiling_starts(r.ep_offset, r.ep_len, eps, self.shape)
            else:
                starts = window_starts(r.ep_offset, r.ep_len, eps, self.shape.span, stride)
            self._sets[split] = RobotWindows(split, r, starts, self.shape, self.norm, targets)
        return self._sets[split]

    def train_set(self) -> RobotWindows:
        """Windows of the training episodes, one per start row; observations and actions only."""
        return self.windows("train")

    def probe_suites(self) -> list[ProbeSuite]:
        """One linear R2 probe from encoded latents to action, proprio and state (per frame)."""
        return [
            ProbeSuite(
                name="robot",
                targets=self.targets,
                train=self.windows("probe_train"),
                evals={"val": self.windows("val")},
                mode="encode",
                head="linear",
                metric="r2",
            )
        ]

    def data_sha256(self) -> str:
        """``frames_sha256`` of the file (computed once per task)."""
        if self._data_sha is None:
            self._data_sha = frames_sha256(self.reader)
        return self._data_sha

    def describe(self) -> dict[str, object]:
        """File, split, window settings, normalisation statistics and the data's hash."""
        r = self.reader
        ids = r.episode_idx[r.ep_offset]  # source episode index of each episode
        return {
            **self.provenance,
            "file": str(r.path),
            "pixels": r.pixel_key,
            "stored_frame_shape": list(r.source_shape),
            "frame_shape": list(r.frame_shape),
            "image_size": self.image_size,
            "data_fingerprint": data_fingerprint(r),
            "rows": int(r.n_rows),
            "episodes": int(len(r.ep_len)),
            "train_episodes": [int(i) for i in ids[self.train_eps]],
            "val_episodes": [int(i) for i in ids[self.val_eps]],
            "train_split": self.train_split,
            "split_seed": self.split_seed,
            "frameskip": self.shape.frameskip,
            "history_size": self.shape.history_size,
            "num_preds": self.shape.num_preds,
            "probe_stride": self.probe_stride,
            "windows": {k: len(self.windows(k)) for k in ("train", "probe_train", "val")},
            "targets": list(self.targets),
            "in_memory": bool(r.cached),
            "normalisation": self.norm.to_dict(),
            "file_attrs": {k: v for k, v in r.attrs.items() if k != "options"},
            DATA_HASH_KEY: self.data_sha256(),
        }
