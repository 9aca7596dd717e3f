"""The LeWM HDF5 layout: constants, a reader and a validator.

One file, one dataset per column, flat over all N steps: ``pixels`` (N, H, W, C) uint8, ``action``,
``proprio``, ``state`` (N, K) float32, ``episode_idx``, ``step_idx`` ... (N,), plus ``ep_len`` and
``ep_offset`` (N_ep,). The reader also accepts the seed author's per-camera files and
stable-worldmodel's files (``ep_idx`` instead of ``episode_idx``, no ``done``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

LAYOUT_VERSION = "lewm-h5/1"
EPISODE_KEYS = ("ep_len", "ep_offset")  # per-episode datasets; every other dataset is per-step
PIXELS = "pixels"
ALIASES = {"ep_idx": "episode_idx"}  # other name -> our name
FLOAT_COLUMNS = ("action", "proprio", "state")
INT_COLUMNS = ("episode_idx", "step_idx", "index", "task_index")


def extra_camera_name(camera_key: str) -> str:
    """Dataset name for a further camera: ``observation.images.phone`` -> ``pixels_phone``."""
    short = camera_key.removeprefix("observation.images.").removeprefix("observation.image.")
    return PIXELS + "_" + "".join(c if c.isalnum() else "_" for c in short)


@dataclass
class LewmH5:
    """An open LeWM-layout file: per-step columns, episode table and pixel datasets.

    ``columns`` maps names (aliases resolved: ``ep_idx`` appears as ``episode_idx``) to the
    h5py datasets, read lazily. ``done`` is read when present, else derived from episode ends.
    """

    path: Path
    file: h5py.File
    columns: dict[str, h5py.Dataset]
    ep_len: np.ndarray  # (N_ep,) int64
    ep_offset: np.ndarray  # (N_ep,) int64
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.ep_len.sum())

    @property
    def n_episodes(self) -> int:
        return int(len(self.ep_len))

    @property
    def pixel_keys(self) -> list[str]:
        """Pixel datasets: ``pixels`` first, then any ``pixels_<camera>``."""
        keys = [k for k, d in self.columns.items() if d.ndim == 4 and d.dtype == np.uint8]
        return sorted(keys, key=lambda k: (k != PIXELS, k))

    @property
    def pixels(self) -> h5py.Dataset:
        keys = self.pixel_keys
        if not keys:
            raise KeyError(f"{self.path}: no pixel dataset (N, H, W, C) uint8")
        return self.columns[keys[0]]

    @property
    def done(self) -> np.ndarray:
        """(N,) bool: the stored ``done`` column, or True at the last step of each episode."""
        if "done" in self.columns:
            return np.asarray(self.columns["done"][:], dtype=bool)
        done = np.zeros(self.n_rows, dtype=bool)
        done[self.ep_offset + self.ep_len - 1] = True
        return done

    @property
    def episode_idx(self) -> np.ndarray:
        """(N,) int64: the stored episode index, or the position of the episode in the file."""
        if "episode_idx" in self.columns:
            return np.asarray(self.columns["episode_idx"][:], dtype=np.int64)
        return np.repeat(np.arange(self.n_episodes, dtype=np.int64), self.ep_len)

    def episode(self, i: int) -> slice:
        """Row range of the ``i``-th episode in the file."""
        lo = int(self.ep_offset[i])
        return slice(lo, lo + int(self.ep_len[i]))

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> LewmH5:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_lewm_h5(path: str | Path, cache_mb: int = 256) -> LewmH5:
    """Open a LeWM-layout HDF5 file read-only (SWMR, ``cache_mb`` chunk cache).

    Raises ``ValueError`` naming what is wrong if the file is not an HDF5 file or lacks
    ``ep_len`` / ``ep_offset`` as 1-D integer datasets.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r", swmr=True, rdcc_nbytes=cache_mb * 1024 * 1024)
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    try:
        missing = [k for k in EPISODE_KEYS if k not in f]
        if missing:
            raise ValueError(f"{path}: not in the LeWM layout, missing {missing}")
        ep_len, ep_offset = (_episode_table(f, path, k) for k in EPISODE_KEYS)
        columns: dict[str, h5py.Dataset] = {}
        for name, obj in f.items():
            if name in EPISODE_KEYS or not isinstance(obj, h5py.Dataset):
                continue
            columns[ALIASES.get(name, name)] = obj
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
    except Exception:
        f.close()
        raise
    return LewmH5(path, f, columns, ep_len, ep_offset, attrs)


def _episode_table(f: h5py.File, path: Path, key: str) -> np.ndarray:
    """``ep_len`` or ``ep_offset`` as (N_ep,) int64; ``ValueError`` naming what is wrong."""
    obj = f.get(key)
    if not isinstance(obj, h5py.Dataset):
        kind = "a group" if isinstance(obj, h5py.Group) else type(obj).__name__
        raise ValueError(f"{path}: {key!r} is {kind}, expected a 1-D integer dataset (N_ep,)")
    if obj.ndim != 1 or obj.dtype.kind not in "iu":
        raise ValueError(
            f"{path}: {key!r} has shape {obj.shape} and dtype {obj.dtype}, "
            "expected a 1-D integer dataset (N_ep,)"
        )
    try:
        return np.asarray(obj[:], dtype=np.int64)
    except OSError as exc:
        raise ValueError(f"{path}: {key!r} is unreadable ({exc})") from exc


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


@dataclass
class CheckResult:
    """Problems found in a file: ``errors`` make it unusable, ``warnings`` are worth knowing."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _first_bad_episode(mask: np.ndarray) -> str:
    bad = np.flatnonzero(mask)
    return f"{len(bad)} episode(s), first at position {int(bad[0])}"


def check_lewm_h5(h5: LewmH5, deep: bool = False) -> CheckResult:
    """Validate ``h5``: episode table, column lengths, pixel layout, indices, done flags, NaNs.

    Reads the small columns fully and the first and last frame of every episode; ``deep`` reads
    every pixel chunk too (finds corrupt chunks, slow on big files). Unreadable data is an error,
    never an exception.
    """
    res = CheckResult()
    try:
        _check(h5, deep, res)
    except OSError as exc:  # a corrupt chunk in a small column
        res.errors.append(f"unreadable data ({exc})")
    return res


def _check(h5: LewmH5, deep: bool, res: CheckResult) -> CheckResult:
    n_ep, n = h5.n_episodes, h5.n_rows
    if len(h5.ep_offset) != n_ep:
        res.errors.append(f"ep_len has {n_ep} entries but ep_offset has {len(h5.ep_offset)}")
        return res
    if n_ep == 0:
        res.errors.append("the file holds no episodes")
        return res
    if (h5.ep_len <= 0).any():
        res.errors.append(f"ep_len <= 0 in {_first_bad_episode(h5.ep_len <= 0)}")
    expected = np.concatenate([[0], np.cumsum(h5.ep_len)[:-1]])
    if not np.array_equal(h5.ep_offset, expected):
        res.errors.append(
            "ep_offset is not the running sum of ep_len: "
            + _first_bad_episode(h5.ep_offset != expected)
        )
    for name, ds in h5.columns.items():
        if ds.shape[:1] != (n,):
            res.errors.append(f"column {name!r} has {ds.shape[:1]} rows, expected {n}")
    for name in (*INT_COLUMNS, "done"):
        ds = h5.columns.get(name)
        if ds is not None and (
            ds.ndim != 1 or ds.dtype.kind not in ("biu" if name == "done" else "iu")
        ):
            want = "bool or integer" if name == "done" else "integer"
            res.errors.append(
                f"column {name!r} has shape {ds.shape} and dtype {ds.dtype}, expected (N,) {want}"
            )
    if res.errors:
        return res
    if not h5.pixel_keys:
        res.errors.append("no pixel dataset of shape (N, H, W, C) uint8")
    for key in h5.pixel_keys:
        shape = h5.columns[key].shape
        if shape[-1] not in (1, 3, 4):
            kind = "channel-first" if shape[1] in (1, 3, 4) else "unknown"
            res.errors.append(f"{key} has shape {shape}: {kind} layout, expected (N, H, W, C)")
    if "ep_idx" in h5.file and "episode_idx" not in h5.file:
        res.warnings.append("episode index stored as 'ep_idx' (read as 'episode_idx')")
    starts = h5.ep_offset
    if "episode_idx" in h5.columns:
        ep = h5.episode_idx
        first = ep[starts]
        if not np.array_equal(np.repeat(first, h5.ep_len), ep):
            res.errors.append("episode_idx changes inside an episode")
        if len(np.unique(first)) != n_ep:
            res.warnings.append("the same episode_idx appears in more than one episode")
    if "step_idx" in h5.columns:
        step = np.asarray(h5.columns["step_idx"][:], dtype=np.int64)
        want = np.arange(n) - np.repeat(starts, h5.ep_len)
        if not np.array_equal(step, want):
            res.warnings.append("step_idx is not 0..ep_len-1 within every episode")
    if "done" in h5.columns:
        done = h5.done
        last = starts + h5.ep_len - 1
        if not done[last].all():
            bad = _first_bad_episode(~done[last])
            res.errors.append(f"done is False at the last step of {bad}")
        early = done.copy()
        early[last] = False
        if early.any():
            row = int(early.argmax())
            res.warnings.append(f"done is True before the end of an episode at row {row}")
    else:
        res.warnings.append("no 'done' column; done is derived from episode ends")
    for name, ds in h5.columns.items():
        if ds.dtype.kind in "fc":  # float columns of any rank, read a block of rows at a time
            try:
                bad_row = _first_nonfinite_row(ds)
            except OSError as exc:
                res.errors.append(f"column {name!r}: unreadable data ({exc})")
                continue
            if bad_row is not None:
                res.errors.append(
                    f"column {name!r} has NaN or infinite values (first at row {bad_row})"
                )
    for key in h5.pixel_keys:
        ds = h5.columns[key]
        try:
            if deep:
                rows = ds.chunks[0] if ds.chunks else 256
                for lo in range(0, n, rows):
                    ds[lo : lo + rows]
            else:
                for row in np.unique(np.concatenate([starts, starts + h5.ep_len - 1])):
                    ds[int(row)]
        except OSError as exc:
            res.errors.append(f"{key}: unreadable data ({exc})")
    return res


def _first_nonfinite_row(ds: h5py.Dataset, block_mb: float = 64.0) -> int | None:
    """The first row of ``ds`` holding NaN or inf, or None; reads about ``block_mb`` at a time."""
    row_bytes = max(1, int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize)
    rows = max(1, int(block_mb * 2**20) // row_bytes)
    if ds.chunks:  # whole chunks, so each is read (and decompressed) once
        rows = max(ds.chunks[0], rows // ds.chunks[0] * ds.chunks[0])
    for lo in range(0, ds.shape[0], rows):
        block = ds[lo : lo + rows]
        finite = np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if not finite.all():
            return lo + int(np.argmin(finite))
    return None


def summarize(h5: LewmH5) -> dict[str, Any]:
    """JSON-able summary: sizes, columns with shape and dtype, episode lengths, provenance."""
    return {
        "path": str(h5.path),
        "rows": h5.n_rows,
        "episodes": h5.n_episodes,
        "ep_len": {
            "min": int(h5.ep_len.min()) if h5.n_episodes else 0,
            "max": int(h5.ep_len.max()) if h5.n_episodes else 0,
            "mean": float(h5.ep_len.mean()) if h5.n_episodes else 0.0,
        },
        "columns": {
            name: {
                "shape": list(ds.shape),
                "dtype": str(ds.dtype),
                "chunks": list(ds.chunks) if ds.chunks else None,
                "compression": ds.compression,
            }
            for name, ds in h5.columns.items()
        },
        "pixels": h5.pixel_keys,
        "attrs": h5.attrs,
        "file_mb": round(h5.path.stat().st_size / 2**20, 3),
    }
