"""Windows over HDF5 episodes: frameskip, history, concatenated actions, z-scored columns.

A window starting at row ``s`` spans ``span = T * frameskip`` rows of one episode, with
``T = history_size + num_preds``. Its frames are rows ``s, s + k, ..., s + (T-1) k``
(``k = frameskip``); the action block of frame ``t`` is the ``k`` actions recorded from that frame
up to the next one, concatenated in time order: ``[a[s + t k], a[s + t k + 1], ...]``, each of
``A`` values, so a block has ``k * A`` values (stable-worldmodel's frameskip convention). The
model gets the blocks of frames 0..T-2; the ``action`` probe target holds all T blocks.

Action, proprioception and state are z-scored per dimension with the mean and standard deviation
of the training episodes' rows (a constant dimension keeps std 1). Observations are float32 in
[0, 1], (B, T, 3, H, W), from the file's uint8 (H, W, 3) pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jepa_bench.data.base import Batch
from jepa_bench.data.robot.loader import H5Frames

STD_FLOOR = 1e-6


@dataclass(frozen=True)
class WindowShape:
    """How frames and actions are taken from an episode."""

    frameskip: int = 5
    history_size: int = 3
    num_preds: int = 1

    def __post_init__(self) -> None:
        for name in ("frameskip", "history_size", "num_preds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")

    @property
    def seq_len(self) -> int:
        return self.history_size + self.num_preds

    @property
    def span(self) -> int:
        """Rows of the episode one window covers."""
        return self.seq_len * self.frameskip


def window_starts(
    ep_offset: np.ndarray, ep_len: np.ndarray, episodes: np.ndarray, span: int, stride: int = 1
) -> np.ndarray:
    """First rows of every window of ``span`` rows inside the given episodes (positions).

    Windows start every ``stride`` rows from each episode's first row; an episode shorter than
    ``span`` gives none. Returns a sorted int64 array.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    parts = [
        ep_offset[e] + np.arange(0, ep_len[e] - span + 1, stride, dtype=np.int64)
        for e in np.asarray(episodes, dtype=np.int64)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def tiling_starts(
    ep_offset: np.ndarray, ep_len: np.ndarray, episodes: np.ndarray, shape: WindowShape
) -> np.ndarray:
    """Window starts whose frames cover every row of the episodes once (probe windows).

    Rows are cut into blocks of ``span``; the ``frameskip`` windows starting at a block's first
    ``frameskip`` rows together hold each row of the block exactly once. The rows after the last
    whole block of an episode are left out.
    """
    every = window_starts(ep_offset, ep_len, episodes, shape.span, 1)
    first = np.repeat(ep_offset, ep_len)[every]  # first row of each start's episode
    return every[(every - first) % shape.span < shape.frameskip]


@dataclass
class Normaliser:
    """Per-dimension (mean, std) of each float column."""

    stats: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def fit(cls, columns: dict[str, np.ndarray], rows: np.ndarray) -> Normaliser:
        """Statistics of ``columns`` over ``rows`` (the training episodes' rows)."""
        if len(rows) == 0:
            raise ValueError("cannot compute normalisation statistics from zero rows")
        stats = {}
        for name, values in columns.items():
            v = values[rows].astype(np.float64)  # (R, K)
            std = v.std(axis=0)
            std = np.where(std < STD_FLOOR, 1.0, std)
            stats[name] = (v.mean(axis=0).astype(np.float32), std.astype(np.float32))
        return cls(stats)

    def __call__(self, name: str, values: np.ndarray) -> np.ndarray:
        mean, std = self.stats[name]
        return ((values - mean) / std).astype(np.float32)

    def to_dict(self) -> dict[str, dict[str, list[float]]]:
        return {k: {"mean": m.tolist(), "std": s.tolist()} for k, (m, s) in self.stats.items()}


def episode_rows(ep_offset: np.ndarray, ep_len: np.ndarray, episodes: np.ndarray) -> np.ndarray:
    """Every row of the given episodes (positions), concatenated."""
    parts = [np.arange(ep_offset[e], ep_offset[e] + ep_len[e]) for e in episodes]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class RobotWindows:
    """A ``WindowSet`` of fixed-length windows of one HDF5 file.

    ``targets``: probe targets to attach per frame ("action" (B, T, k*A), "proprio", "state");
    empty for training windows. Frames come from ``reader`` at its output size.
    """

    def __init__(
        self,
        name: str,
        reader: H5Frames,
        starts: np.ndarray,
        shape: WindowShape,
        norm: Normaliser,
        targets: tuple[str, ...] = (),
    ) -> None:
        missing = [t for t in targets if t not in reader.columns]
        if missing:
            raise ValueError(f"{reader.path}: no column for target(s) {missing}")
        self.name = name
        self.reader = reader
        self.starts = np.asarray(starts, dtype=np.int64)
        # position of each window's episode in the file (for episode-grouped probe fitting)
        self.episode = np.searchsorted(reader.ep_offset, self.starts, side="right") - 1
        self.shape = shape
        self.norm = norm
        self.targets = tuple(targets)
        self._frame_offsets = np.arange(shape.seq_len, dtype=np.int64) * shape.frameskip
        self._action_offsets = np.arange(shape.span, dtype=np.int64)

    def __len__(self) -> int:
        return int(len(self.starts))

    def _check(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise ValueError(f"{self.name}: idx must be a 1-D integer array, got {idx.shape}")
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(
                f"{self.name}: indices must lie in [0, {n}); got {idx.min()}..{idx.max()}"
            )
        return idx.astype(np.int64)

    def action_blocks(self, starts: np.ndarray) -> np.ndarray:
        """Normalised action blocks (B, T, k * A) of the windows starting at ``starts``."""
        rows = starts[:, None] + self._action_offsets  # (B, T * k)
        a = self.norm("action", self.reader.columns["action"][rows])  # (B, T * k, A)
        return a.reshape(len(starts), self.shape.seq_len, -1)

    def batch(self, idx: np.ndarray) -> Batch:
        """The windows at ``idx`` as a batch (see the module docstring for shapes)."""
        s = self.starts[self._check(idx)]  # (B,)
        frame_rows = s[:, None] + self._frame_offsets  # (B, T)
        pix = self.reader.frames(frame_rows)  # (B, T, H, W, C) uint8
        obs = _to_obs(pix)  # (B, T, C, H, W)
        blocks = self.action_blocks(s)  # (B, T, k * A)
        targets: dict[str, np.ndarray] = {}
        for name in self.targets:
            if name == "action":
                targets[name] = blocks
            else:
                targets[name] = self.norm(name, self.reader.columns[name][frame_rows])  # (B, T, K)
        return Batch(obs=obs, actions=np.ascontiguousarray(blocks[:, :-1]), targets=targets)


def _to_obs(pix: np.ndarray) -> np.ndarray:
    """uint8 (B, T, H, W, C) -> float32 (B, T, C, H, W) in [0, 1]."""
    obs = np.empty((*pix.shape[:2], pix.shape[4], *pix.shape[2:4]), dtype=np.float32)
    np.multiply(pix.transpose(0, 1, 4, 2, 3), np.float32(1.0 / 255.0), out=obs)
    return obs
