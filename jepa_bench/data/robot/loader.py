"""Fast random access to LeWM-layout HDF5 files: one handle per process, contiguous reads.

``H5Frames`` keeps the small per-step columns (action, proprio, state, episode table) in memory
and reads pixels on demand: the rows a batch needs are grouped into contiguous row ranges (one
read per range, then the frames are picked from it), through a large chunk cache. Small files can
be held in memory whole (``cache``). The HDF5 handle is opened lazily and re-opened in any new
process (a forked DataLoader worker never uses its parent's handle); pickling drops it.
``WindowDataset`` and ``window_loader`` put a window set behind a torch ``DataLoader``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jepa_bench.convert.layout import open_lewm_h5

CACHE_LIMIT_MB = 1024  # cache="auto" holds pixels in memory up to this size
CHUNK_CACHE_MB = 256  # the HDF5 chunk cache of each handle (as stable-worldmodel opens files)
FLOAT_COLUMNS = ("action", "proprio", "state")


class H5Frames:
    """Columns of one LeWM HDF5 file; pixels read by rows.

    ``pixels``: the pixel dataset to read (``pixels`` by default, or ``pixels_<camera>``).
    ``cache``: True holds every frame in memory, False never, "auto" when the frames take at most
    ``cache_limit_mb``. Float columns are checked for NaN and infinity when the file is opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        pixels: str | None = None,
        cache: bool | str = "auto",
        cache_limit_mb: float = CACHE_LIMIT_MB,
        chunk_cache_mb: int = CHUNK_CACHE_MB,
    ) -> None:
        if cache not in (True, False, "auto"):
            raise ValueError(f"cache must be True, False or 'auto', got {cache!r}")
        self.path = Path(path)
        self.chunk_cache_mb = chunk_cache_mb
        self._file: h5py.File | None = None
        self._pid = -1
        with open_lewm_h5(self.path, cache_mb=1) as h5:
            keys = h5.pixel_keys
            if not keys:
                raise ValueError(f"{self.path}: no pixel dataset (N, H, W, C) uint8")
            self.pixel_key = pixels or keys[0]
            if self.pixel_key not in keys:
                raise ValueError(
                    f"{self.path}: no pixel dataset {self.pixel_key!r}; it holds {keys}"
                )
            ds = h5.columns[self.pixel_key]
            self.frame_shape: tuple[int, int, int] = tuple(int(d) for d in ds.shape[1:])
            self.ep_len = h5.ep_len.copy()
            self.ep_offset = h5.ep_offset.copy()
            self.n_rows = h5.n_rows
            if ds.shape[0] != self.n_rows:
                raise ValueError(
                    f"{self.path}: {self.pixel_key} has {ds.shape[0]} rows, the episode table "
                    f"{self.n_rows}"
                )
            self.episode_idx = h5.episode_idx
            self.attrs = dict(h5.attrs)
            self.columns = {k: self._read_float(h5, k) for k in FLOAT_COLUMNS if k in h5.columns}
            self.chunk_rows = int(ds.chunks[0]) if ds.chunks else None
            self.compression = ds.compression
        if "action" not in self.columns:
            raise ValueError(f"{self.path}: no 'action' column; a world model needs actions")
        nbytes = self.n_rows * int(np.prod(self.frame_shape))
        self.cached = cache is True or (cache == "auto" and nbytes <= cache_limit_mb * 2**20)
        self._frames: np.ndarray | None = None

    def _read_float(self, h5: Any, name: str) -> np.ndarray:
        values = np.asarray(h5.columns[name][:], dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[0] != self.n_rows:
            raise ValueError(
                f"{self.path}: column {name!r} has shape {values.shape}; expected "
                f"({self.n_rows}, K)"
            )
        bad = ~np.isfinite(values).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{self.path}: column {name!r} has NaN or infinite values in {int(bad.sum())} "
                f"row(s), first at row {int(np.argmax(bad))}"
            )
        return values

    # -- handles --------------------------------------------------------------------------------

    def _dataset(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            self._file = None  # a parent's handle is left alone, never used in a child
            cache = self.chunk_cache_mb * 2**20
            self._file = h5py.File(self.path, "r", swmr=True, rdcc_nbytes=cache, rdcc_nslots=10007)
            self._pid = os.getpid()
        return self._file[self.pixel_key]

    def reopen(self) -> None:
        """Drop this process's handle (a worker calls this first); the next read opens anew."""
        self._file = None

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"] = None
        state["_frames"] = None  # a spawned worker loads its own cache when it needs one
        return state

    # -- reads ----------------------------------------------------------------------------------

    def load(self) -> np.ndarray:
        """Every frame (N, H, W, C) uint8, read once and kept (the in-memory cache)."""
        if self._frames is None:
            ds = self._dataset()
            frames = np.empty(ds.shape, dtype=np.uint8)
            step = max(1, self.chunk_rows or 256) * 16
            for lo in range(0, self.n_rows, step):
                ds.read_direct(frames, np.s_[lo : lo + step], np.s_[lo : lo + step])
            self._frames = frames
        return self._frames

    def frames(self, rows: np.ndarray) -> np.ndarray:
        """Frames at ``rows`` (B, T) -> (B, T, H, W, C) uint8.

        Uncached, each window's rows are read as one contiguous range (ranges of a batch that
        overlap or touch are merged), then the frames are picked from it.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 2:
            raise ValueError(f"rows must be (B, T), got shape {rows.shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"{self.path}: rows must lie in [0, {self.n_rows})")
        if self.cached:
            return self.load()[rows]
        out = np.empty((*rows.shape, *self.frame_shape), dtype=np.uint8)
        if rows.size == 0:
            return out
        ds = self._dataset()
        lo, hi = rows.min(axis=1), rows.max(axis=1) + 1
        order = np.argsort(lo, kind="stable")
        i = 0
        while i < len(order):
            start, stop, j = lo[order[i]], hi[order[i]], i + 1
            while j < len(order) and lo[order[j]] <= stop:  # merge overlapping / touching ranges
                stop = max(stop, hi[order[j]])
                j += 1
            block = ds[int(start) : int(stop)]  # (stop - start, H, W, C): one contiguous read
            for w in order[i:j]:
                out[w] = block[rows[w] - start]
            i = j
        return out


class WindowDataset:
    """A window set as a map-style torch dataset; an index may be one window or a batch of them.

    With ``window_loader`` each DataLoader item is a whole batch, read with ``batch()`` (merged
    contiguous reads), and each worker re-opens its own HDF5 handle.
    """

    def __init__(self, windows: Any) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, idx: int | list[int] | np.ndarray) -> dict[str, Any]:
        many = np.ndim(idx) > 0
        batch = self.windows.batch(np.atleast_1d(np.asarray(idx, dtype=np.int64)))
        pick = (lambda a: a) if many else (lambda a: a[0])  # noqa: E731
        out = {"obs": pick(batch.obs), "actions": pick(batch.actions)}
        out.update({f"target/{k}": pick(v) for k, v in batch.targets.items()})
        return out


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: give this worker its own HDF5 handle."""
    import torch.utils.data

    info = torch.utils.data.get_worker_info()
    if info is not None:
        reader = getattr(getattr(info.dataset, "windows", None), "reader", None)
        if reader is not None:
            reader.reopen()


def window_loader(
    windows: Any,
    batch_size: int,
    num_workers: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int = 0,
) -> Any:
    """A torch ``DataLoader`` yielding dicts of batched tensors from ``windows``."""
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    reader = getattr(windows, "reader", None)
    if num_workers and reader is not None and reader.cached:
        reader.load()  # load once here: forked workers share the pages instead of copying
    ds = WindowDataset(windows)
    gen = torch.Generator().manual_seed(seed)
    base = RandomSampler(ds, generator=gen) if shuffle else SequentialSampler(ds)
    return DataLoader(
        ds,
        batch_size=None,  # the sampler yields whole batches of indices
        sampler=BatchSampler(base, batch_size, drop_last),
        num_workers=num_workers,
        worker_init_fn=worker_init if num_workers else None,
        persistent_workers=num_workers > 0,
    )
