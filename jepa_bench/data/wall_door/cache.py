"""On-disk cache of generated splits: one ``.npz`` per (version, data seed, sizes).

The file is written to a temporary name and renamed into place, so a reader never sees a partial
file. It carries a JSON header with the key and a SHA-256 per array; a file that fails to open,
has wrong shapes or a bad checksum is reported with a warning and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from jepa_bench.data.base import cache_root
from jepa_bench.data.wall_door.generate import FIELDS, SPLITS, TASK_VERSION
from jepa_bench.record.io import move_into_place

META = "__meta__"


class CacheError(ValueError):
    """A cache file that cannot be used (missing, truncated, wrong content)."""


def cache_key(data_seed: int, sizes: dict[str, int]) -> dict[str, object]:
    """Everything that determines the cached content."""
    return {
        "version": TASK_VERSION,
        "data_seed": int(data_seed),
        "sizes": {k: int(sizes[k]) for k in sorted(sizes)},
        "seq_lens": {k: SPLITS[k].seq_len for k in sorted(sizes)},
    }


def cache_path(
    data_seed: int, sizes: dict[str, int], data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Where the splits of this key live."""
    blob = json.dumps(cache_key(data_seed, sizes), sort_keys=True).encode()
    digest = hashlib.sha256(blob).hexdigest()[:12]
    return cache_root(data_dir) / "wall_door" / f"{TASK_VERSION}_seed{data_seed}_{digest}.npz"


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def save(path: Path, splits: dict[str, dict[str, np.ndarray]], key: dict[str, object]) -> None:
    """Write ``splits`` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{s}/{f}": np.ascontiguousarray(splits[s][f]) for s in splits for f in FIELDS}
    meta = dict(key, sha256={name: _sha(a) for name, a in arrays.items()})
    arrays[META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            # numpy's stub would let **arrays fill savez's allow_pickle: bool; it never holds it
            np.savez(fh, **cast(dict[str, Any], arrays))
            fh.flush()
            os.fsync(fh.fileno())
        move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_split(name: str, arrays: dict[str, np.ndarray], n: int) -> None:
    t = SPLITS[name].seq_len
    want = {
        "locations": ((n, t, 2), np.float32),
        "actions": ((n, t - 1, 2), np.float32),
        "layouts": ((n, 2), np.int16),
        "kinds": ((n,), np.int8),
    }
    for field, (shape, dtype) in want.items():
        a = arrays[field]
        if a.shape != shape or a.dtype != dtype:
            raise CacheError(
                f"{name}/{field} has shape {a.shape} {a.dtype}; expected {shape} {np.dtype(dtype)}"
            )
    if not np.isfinite(arrays["locations"]).all() or not np.isfinite(arrays["actions"]).all():
        raise CacheError(f"{name} holds non-finite locations or actions")


def load(path: Path, key: dict[str, object]) -> dict[str, dict[str, np.ndarray]]:
    """Read and verify a cache file against ``key``; raises ``CacheError`` on any problem."""
    if not path.is_file():
        raise CacheError(f"no cache file at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(bytes(npz[META]).decode())
            sizes: dict[str, int] = key["sizes"]  # type: ignore[assignment]
            splits = {s: {f: npz[f"{s}/{f}"] for f in FIELDS} for s in sizes}
    except CacheError:
        raise
    except Exception as err:  # truncated zip, missing member, bad header, ...
        raise CacheError(f"cannot read {path}: {type(err).__name__}: {err}") from err
    for field in ("version", "data_seed", "sizes", "seq_lens"):
        if meta.get(field) != key[field]:
            raise CacheError(f"{path}: {field} is {meta.get(field)!r}, expected {key[field]!r}")
    for s, n in sizes.items():
        _check_split(s, splits[s], n)
        for f in FIELDS:
            if _sha(splits[s][f]) != meta["sha256"].get(f"{s}/{f}"):
                raise CacheError(f"{path}: checksum mismatch in {s}/{f}")
    return splits


def load_or_build(
    path: Path,
    key: dict[str, object],
    build: Callable[[], dict[str, dict[str, np.ndarray]]],
) -> tuple[dict[str, dict[str, np.ndarray]], bool]:
    """Cached splits, or freshly built (and cached) ones; the flag says whether it built."""
    if path.exists():
        try:
            return load(path, key), False
        except CacheError as err:
            warnings.warn(f"wall_door cache unusable, rebuilding: {err}", RuntimeWarning, 2)
    splits = build()
    save(path, splits, key)
    return splits, True
