"""An atomic, chunk-aligned HDF5 writer for the LeWM layout.

Rows are buffered up to the next chunk boundary and written one whole chunk at a time, so no
chunk is read back and rewritten. The file is built under ``<out>.tmp`` and renamed to ``<out>``
only after ``commit`` has validated it; on any failure the temporary file is removed, so an
interrupted conversion never leaves a file that looks finished.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

Compression = Literal["lzf", "gzip", "none"]
COMPRESSIONS: tuple[str, ...] = ("lzf", "gzip", "none")


def _filter_args(compression: str) -> dict[str, Any]:
    if compression == "lzf":
        return {"compression": "lzf"}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4}
    if compression == "none":
        return {}
    raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")


class ChunkedAppender:
    """Appends rows to a resizable dataset, writing only whole chunks (except the last)."""

    def __init__(self, ds: h5py.Dataset, chunk_rows: int) -> None:
        self.ds = ds
        self.chunk_rows = int(chunk_rows)
        self.row_shape = tuple(ds.shape[1:])
        self._buf = np.empty((self.chunk_rows, *self.row_shape), dtype=ds.dtype)
        self._n_buf = 0
        self._flushed = int(ds.shape[0])  # rows already in the dataset

    @property
    def n_rows(self) -> int:
        return self._flushed + self._n_buf

    def append(self, rows: np.ndarray) -> None:
        """Append ``rows`` (k, *row_shape), casting to the dataset's dtype."""
        rows = np.asarray(rows)
        if rows.shape[1:] != self.row_shape:
            raise ValueError(
                f"{self.ds.name}: rows of shape {rows.shape[1:]} given, expected {self.row_shape}"
            )
        i = 0
        while i < len(rows):
            boundary = (self._flushed // self.chunk_rows + 1) * self.chunk_rows
            take = min(boundary - self.n_rows, len(rows) - i)
            self._buf[self._n_buf : self._n_buf + take] = rows[i : i + take]
            self._n_buf += take
            i += take
            if self.n_rows == boundary:
                self.flush()

    def flush(self) -> None:
        """Write the buffered rows to the dataset."""
        if self._n_buf == 0:
            return
        end = self._flushed + self._n_buf
        self.ds.resize(end, axis=0)
        self.ds[self._flushed : end] = self._buf[: self._n_buf]
        self._flushed, self._n_buf = end, 0

    def truncate(self, n_rows: int) -> None:
        """Drop every row from ``n_rows`` on (used to roll back a dropped episode)."""
        if n_rows > self.n_rows or n_rows < 0:
            raise ValueError(f"cannot truncate {self.ds.name} to {n_rows} rows of {self.n_rows}")
        if n_rows >= self._flushed:
            self._n_buf = n_rows - self._flushed
        else:
            self.ds.resize(n_rows, axis=0)
            self._flushed, self._n_buf = n_rows, 0


class AtomicH5Writer:
    """Builds one LeWM-layout file under a temporary name; ``commit`` validates and renames it."""

    def __init__(
        self,
        path: str | Path,
        chunk_rows: int = 64,
        compression: str = "lzf",
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.chunk_rows = int(chunk_rows)
        self._filters = _filter_args(compression)
        self.appenders: dict[str, ChunkedAppender] = {}
        self.ep_len: list[int] = []
        self.file: h5py.File | None = None
        self.committed = False

    def __enter__(self) -> AtomicH5Writer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.tmp_path, "w")
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self.committed:
            self.abort()

    def abort(self) -> None:
        """Close and delete the temporary file."""
        if self.file is not None:
            try:
                self.file.close()
            finally:
                self.file = None
        self.tmp_path.unlink(missing_ok=True)

    def column(
        self, name: str, row_shape: tuple[int, ...], dtype: Any, attrs: dict[str, Any] | None = None
    ) -> ChunkedAppender:
        """Create the per-step dataset ``name`` with rows of ``row_shape``."""
        assert self.file is not None, "use the writer as a context manager"
        if name in self.appenders:
            raise ValueError(f"column {name!r} created twice")
        ds = self.file.create_dataset(
            name,
            shape=(0, *row_shape),
            maxshape=(None, *row_shape),
            dtype=dtype,
            chunks=(self.chunk_rows, *row_shape),
            **self._filters,
        )
        for k, v in (attrs or {}).items():
            ds.attrs[k] = v
        self.appenders[name] = ChunkedAppender(ds, self.chunk_rows)
        return self.appenders[name]

    @property
    def n_rows(self) -> int:
        return sum(self.ep_len)

    def end_episode(self) -> None:
        """Close the current episode; every column must have the same number of rows."""
        counts = {k: a.n_rows for k, a in self.appenders.items()}
        if len(set(counts.values())) != 1:
            raise RuntimeError(f"columns disagree on the number of rows: {counts}")
        length = next(iter(counts.values())) - self.n_rows
        if length <= 0:
            raise RuntimeError("an episode must have at least one row")
        self.ep_len.append(length)

    def rollback_episode(self) -> None:
        """Drop the rows of the episode being written."""
        for a in self.appenders.values():
            a.truncate(self.n_rows)

    def commit(
        self,
        attrs: dict[str, Any],
        validate: Callable[[Path], None] | None = None,
        before_rename: Callable[[], None] | None = None,
    ) -> Path:
        """Flush, write ``ep_len`` / ``ep_offset`` and ``attrs``, validate, then rename.

        ``before_rename`` is called once the file is complete and validated, just before the rename
        (the converter stops honouring interrupts there).
        """
        assert self.file is not None, "use the writer as a context manager"
        self.rollback_episode()  # rows after the last end_episode() are not part of the file
        for a in self.appenders.values():
            a.flush()
        ep_len = np.asarray(self.ep_len, dtype=np.int64)
        self.file.create_dataset("ep_len", data=ep_len)
        self.file.create_dataset("ep_offset", data=np.cumsum(ep_len) - ep_len)
        for k, v in attrs.items():
            if v is not None:
                self.file.attrs[k] = json.dumps(v) if isinstance(v, (dict, list, tuple)) else v
        self.file.close()
        self.file = None
        if validate is not None:
            validate(self.tmp_path)
        with open(self.tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(self.tmp_path, self.path)
        self.committed = True
        return self.path
