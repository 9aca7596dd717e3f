"""Training batches: which windows each step sees, made on the training device in the background.

The batch at a step is a function of the seed and the step alone (seeded epoch permutations and
crops), so a resumed run sees the same batches. A background thread makes the next batches while
the model trains on this one: on a GPU it renders wall_door frames on the device itself (or
copies host batches through pinned memory, asynchronously); on the CPU it builds them with numpy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch

from jepa_bench import distributed as ddp
from jepa_bench.data.base import TensorBatch, WindowSet, batch_on
from jepa_bench.train.crop import crop_batch, crop_offsets

PREFETCH = 2  # batches made ahead of the step


def batch_order(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of the batch at ``step``: epoch-wise permutations seeded by (seed, epoch)."""
    per_epoch = max(n // batch_size, 1)
    epoch, pos = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    idx = perm[pos * batch_size : (pos + 1) * batch_size]
    return idx if len(idx) else perm[:batch_size]


def make_batch(
    data: WindowSet,
    bs: int,
    seed: int,
    step: int,
    window: int,
    device: torch.device,
    on_device: bool | None = None,
) -> TensorBatch:
    """The batch of ``step`` on ``device`` (this rank's share of the global batch).

    ``window`` > 0 crops every window to that many frames at a seeded random offset.
    """
    idx = batch_order(len(data), bs, seed, step)
    share = np.arange(len(idx))
    if ddp.is_distributed():  # this rank's contiguous share of the global batch
        share = np.array_split(share, ddp.world_size())[ddp.rank()]
    batch = batch_on(data, idx[share], device, on_device)
    if window:
        starts = crop_offsets(len(idx), batch.obs.shape[1], window, seed, step)
        batch = crop_batch(batch, window, starts[share])
    return batch


def prefetch(
    data: WindowSet,
    bs: int,
    seed: int,
    start: int,
    stop: int,
    window: int,
    device: torch.device,
    on_device: bool | None = None,
) -> Iterator[TensorBatch]:
    """The batches of steps ``start`` to ``stop - 1``, made in a background thread."""
    q: queue.Queue = queue.Queue(maxsize=PREFETCH)
    done = threading.Event()

    def work() -> None:
        try:
            for step in range(start, stop):
                if done.is_set():
                    return
                q.put(make_batch(data, bs, seed, step, window, device, on_device))
        except BaseException as exc:  # surfaced in the consumer
            q.put(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        for _ in range(start, stop):
            item = q.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        done.set()
        while not q.empty():
            q.get_nowait()
