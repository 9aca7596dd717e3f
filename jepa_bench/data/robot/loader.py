"""Fast random access to LeWM-layout HDF5 files: one handle per process, contiguous reads.

``H5Frames`` keeps the small per-step columns (action, proprio, state, episode table) in memory
and reads pixels on demand. The rows a batch needs are sorted and grouped into contiguous row
ranges (rows close together share one read; a range never touches an HDF5 chunk without a
needed row), read in row order through a large chunk cache kept with the open dataset, so each
chunk is decompressed at most once per batch. Frames that
fit the memory limit are held in memory whole (``cache``), resized once when the task wants
another size. The HDF5 handle is opened lazily and re-opened in any new process (a forked
DataLoader worker never uses its parent's handle); pickling drops it. ``WindowDataset`` and
``window_loader`` put a window set behind a torch ``DataLoader``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, cast

import h5py
import numpy as np

from jepa_bench.convert.layout import open_lewm_h5

CACHE_LIMIT_MB = 4096  # cache="auto" holds frames in memory up to this size ...
CACHE_RAM_SHARE = 0.25  # ... and this share of the memory available when the file is opened
CHUNK_CACHE_MB = 256  # the HDF5 chunk cache of each handle (as stable-worldmodel opens files)
_INHERITED: list[Any] = []  # handles a forked child got from its parent: kept, never touched
MERGE_GAP_KB = 256  # rows between two needed rows are read along when they take at most this
FLOAT_COLUMNS = ("action", "proprio", "state")


def available_mb() -> float:
    """Memory available to new allocations (MemAvailable), in MiB; inf where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return float("inf")


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W, C) -> uint8 (N, size, size, C), bilinear (antialiased when shrinking)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (N, C, H, W)
    shrink = x.shape[-1] > size or x.shape[-2] > size
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


class H5Frames:
    """Columns of one LeWM HDF5 file; pixels read by rows.

    ``pixels``: the pixel dataset to read (``pixels`` by default, or ``pixels_<camera>``).
    ``size``: frames come out resized to ``size`` x ``size`` (None: as stored). ``cache``: True
    holds every frame (at the output size) in memory, False never, "auto" when they take at most
    ``cache_limit_mb`` (default: 4 GiB or a quarter of the available memory, the smaller).
    Float columns are checked for NaN and infinity when the file is opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        pixels: str | None = None,
        cache: bool | str = "auto",
        cache_limit_mb: float | None = None,
        chunk_cache_mb: int = CHUNK_CACHE_MB,
        size: int | None = None,
    ) -> None:
        if cache not in (True, False, "auto"):
            raise ValueError(f"cache must be True, False or 'auto', got {cache!r}")
        self.path = Path(path)
        self.chunk_cache_mb = chunk_cache_mb
        self._file: h5py.File | None = None
        self._ds: h5py.Dataset | None = None
        self._pid = -1
        self._lock, self._load_lock = threading.Lock(), threading.Lock()
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
            _, h, w, c = ds.shape  # a pixel dataset is (N, H, W, C)
            self.source_shape: tuple[int, int, int] = (int(h), int(w), int(c))
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
        h, w, c = self.source_shape
        self.size = None if size is None or (size, size) == (h, w) else int(size)
        self.frame_shape = (h, w, c) if self.size is None else (self.size, self.size, c)
        if cache_limit_mb is None:
            cache_limit_mb = min(CACHE_LIMIT_MB, CACHE_RAM_SHARE * available_mb())
        self.nbytes = self.n_rows * int(np.prod(self.frame_shape))
        self.cached = cache is True or (cache == "auto" and self.nbytes <= cache_limit_mb * 2**20)
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
        # HDF5 keeps a chunk cache per open dataset, so the dataset object is kept open too.
        if self._ds is None or self._pid != os.getpid():
            with self._lock:
                if self._ds is None or self._pid != os.getpid():
                    self.reopen()
                    cache = self.chunk_cache_mb * 2**20
                    f = h5py.File(self.path, "r", swmr=True, rdcc_nbytes=cache, rdcc_nslots=10007)
                    self._file, self._ds, self._pid = f, f[self.pixel_key], os.getpid()
        return self._ds

    def reopen(self) -> None:
        """Forget this handle (a worker calls this first); the next read opens a new one.

        A handle inherited from a parent process is kept referenced and never closed here, so
        the parent's HDF5 state is not touched from the child.
        """
        if self._file is not None and self._pid != os.getpid():
            _INHERITED.append((self._file, self._ds))
        elif self._file is not None:
            self._file.close()
        self._file = self._ds = None

    def close(self) -> None:
        """Close this process's handle (and with it the chunk cache)."""
        self.reopen()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"] = state["_ds"] = state["_lock"] = state["_load_lock"] = None
        state["_frames"] = None  # a spawned worker loads its own cache when it needs one
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock, self._load_lock = threading.Lock(), threading.Lock()

    # -- reads ----------------------------------------------------------------------------------

    def load(self) -> np.ndarray:
        """Every frame (N, H, W, C) uint8 at the output size, read once and kept (the cache)."""
        if self._frames is None:
            with self._load_lock:  # two threads asking at once read the file once
                if self._frames is None:
                    self._frames = self._read_all()
        return self._frames

    def _read_all(self) -> np.ndarray:
        ds = self._dataset()
        frames = np.empty((self.n_rows, *self.frame_shape), dtype=np.uint8)
        step = max(1, self.chunk_rows or 64) * max(1, 256 // (self.chunk_rows or 64))
        for lo in range(0, self.n_rows, step):
            block = ds[lo : lo + step]  # (step, H, W, C): whole chunks
            frames[lo : lo + len(block)] = (
                block if self.size is None else resize_frames(block, self.size)
            )
        return frames

    def read_ranges(self, rows: np.ndarray) -> list[tuple[int, int]]:
        """Contiguous [lo, hi) ranges covering the sorted unique ``rows``.

        Consecutive rows share a range when the rows between them cost less to copy than a
        separate read (``MERGE_GAP_KB``) and lie in the same or adjacent chunks, so no chunk
        without a needed row is ever read. Reads of several rows of one chunk hit the chunk cache.
        """
        rows = np.asarray(rows, dtype=np.int64)
        chunk = self.chunk_rows or 64
        row_kb = int(np.prod(self.source_shape)) / 1024
        gap = max(1, int(MERGE_GAP_KB / max(row_kb, 1e-9)))
        cut = (np.diff(rows) > gap) | (np.diff(rows // chunk) > 1)
        first = np.concatenate([[0], np.flatnonzero(cut) + 1])
        last = np.concatenate([first[1:], [len(rows)]]) - 1
        return list(zip(rows[first].tolist(), (rows[last] + 1).tolist()))

    def frames(self, rows: np.ndarray) -> np.ndarray:
        """Frames at ``rows`` (B, T) -> (B, T, H, W, C) uint8 at the output size."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 2:
            raise ValueError(f"rows must be (B, T), got shape {rows.shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"{self.path}: rows must lie in [0, {self.n_rows})")
        if self.cached:
            return self.load()[rows]
        if rows.size == 0:
            return np.empty((*rows.shape, *self.frame_shape), dtype=np.uint8)
        flat = rows.ravel()
        order = np.argsort(flat, kind="stable")
        srt = flat[order]  # the needed rows in file order, repeats kept
        ds = self._dataset()
        got = np.empty((len(flat), *self.source_shape), dtype=np.uint8)
        for lo, hi in self.read_ranges(np.unique(srt)):
            a, b = np.searchsorted(srt, [lo, hi])
            got[order[a:b]] = ds[lo:hi][srt[a:b] - lo]  # one contiguous read per range
        if self.size is not None:
            got = resize_frames(got, self.size)
        return got.reshape(*rows.shape, *self.frame_shape)


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
    from torch.utils.data import (
        BatchSampler,
        DataLoader,
        Dataset,
        RandomSampler,
        SequentialSampler,
    )

    reader = getattr(windows, "reader", None)
    if num_workers and reader is not None and reader.cached:
        reader.load()  # load once here: forked workers share the pages instead of copying
    ds = WindowDataset(windows)
    gen = torch.Generator().manual_seed(seed)
    base = RandomSampler(ds, generator=gen) if shuffle else SequentialSampler(ds)
    return DataLoader(
        # torch types a map-style dataset as a Dataset subclass; any __getitem__/__len__ works
        cast(Dataset[dict[str, Any]], ds),
        batch_size=None,  # the sampler yields whole batches of indices
        sampler=BatchSampler(base, batch_size, drop_last),
        num_workers=num_workers,
        worker_init_fn=worker_init if num_workers else None,
        persistent_workers=num_workers > 0,
    )
