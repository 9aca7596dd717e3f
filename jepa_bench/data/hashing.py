"""The task data's hash, computed from the data themselves (never from a file's own checksums).

A run stores it in its record (``task.details.data_sha256``) and ``verify`` recomputes it from the
data it evaluates on, so a record can only be verified on the data it was made with: data planted
in a cache folder, even with self-consistent checksums, hash differently. A task may define
``data_sha256() -> str`` (wall_door hashes its compact split arrays, robot tasks their columns and
frames); any other task is hashed through its window sets, batch by batch (``windows_sha256``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from jepa_bench.data.base import Task, WindowSet
from jepa_bench.record.verification import DATA_HASH_KEY  # the key in a record's task.details

__all__ = ["DATA_HASH_KEY", "arrays_sha256", "task_data_sha256", "update_array", "windows_sha256"]
HASH_BATCH = 256  # windows per batch when hashing a window set


def update_array(h: Any, name: str, a: np.ndarray) -> None:
    """Feed one named array (its dtype, shape and bytes) into the hash ``h``."""
    a = np.ascontiguousarray(a)
    h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
    h.update(a.tobytes())


def arrays_sha256(arrays: Iterable[tuple[str, np.ndarray]]) -> str:
    """Hex SHA-256 of named arrays, in the order given."""
    h = hashlib.sha256()
    for name, a in arrays:
        update_array(h, name, a)
    return h.hexdigest()


def _update_windows(h: Any, name: str, ws: WindowSet) -> None:
    n = len(ws)
    h.update(f"{name}:{n};".encode())
    for lo in range(0, n, HASH_BATCH):
        b = ws.batch(np.arange(lo, min(n, lo + HASH_BATCH)))
        update_array(h, "obs", np.asarray(b.obs, np.float32))
        update_array(h, "actions", np.asarray(b.actions, np.float32))
        for key in sorted(b.targets):
            update_array(h, key, np.asarray(b.targets[key], np.float32))


def windows_sha256(task: Task) -> str:
    """Hex SHA-256 of every window the task trains and evaluates on (train set, probe splits)."""
    h = hashlib.sha256()
    _update_windows(h, "train", task.train_set())
    for suite in task.probe_suites():
        _update_windows(h, f"{suite.name}:train", suite.train)
        for split, ws in suite.evals.items():
            _update_windows(h, f"{suite.name}:{split}", ws)
    return h.hexdigest()


def task_data_sha256(task: Task) -> str:
    """The task's own ``data_sha256()`` when it has one, else ``windows_sha256(task)``."""
    own = getattr(task, "data_sha256", None)
    return str(own()) if callable(own) else windows_sha256(task)
