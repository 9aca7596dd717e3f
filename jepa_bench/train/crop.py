"""Random sub-windows of training windows (LeWM trains on history + 1 frames, not whole clips).

Offsets are drawn for the *global* batch from a generator seeded by ``(seed, step)``, so a
distributed run crops exactly as a single process does and ``--resume`` replays the same crops.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from jepa_bench.data.base import Batch, TensorBatch


def crop_offsets(n: int, length: int, window: int, seed: int, step: int) -> np.ndarray:
    """Start frame of each of ``n`` sub-windows of ``window`` frames in ``length``-frame windows."""
    if window < 2:
        raise ValueError(f"a training window needs at least 2 frames, got {window}")
    if window >= length:
        return np.zeros(n, dtype=np.int64)
    return np.random.default_rng([seed, step, 0xC0]).integers(0, length - window + 1, size=n)


B = TypeVar("B", Batch, TensorBatch)


def crop_batch(batch: B, window: int, offsets: np.ndarray) -> B:
    """``window`` frames of each window from its offset: obs, the actions between them, targets.

    Works on host batches (numpy) and device batches (torch) alike.
    """
    b, t = batch.obs.shape[:2]
    if window >= t:
        return batch
    if offsets.shape != (b,) or offsets.min() < 0 or offsets.max() > t - window:
        raise ValueError(f"offsets must be {b} starts in [0, {t - window}], got {offsets}")
    rows = np.arange(b)[:, None]
    frames = offsets[:, None] + np.arange(window)[None]  # (B, W)
    return type(batch)(
        batch.obs[rows, frames],
        batch.actions[rows, frames[:, :-1]],
        {k: v[rows, frames] for k, v in batch.targets.items()},
    )
