"""One writer at a time in a leaderboard folder: a lock file created with ``O_CREAT | O_EXCL``.

``submit``, ``verify`` (when it marks a row) and ``run --leaderboard-dir`` hold it while they
write records and regenerate the tables, so two of them never interleave: the second waits up to
its timeout and then fails with ``LeaderboardBusy``, naming the lock. A lock left by a process
that died on this machine is noticed (its pid is gone) and taken over.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".leaderboard.lock"
DEFAULT_TIMEOUT_S = 30.0


class LeaderboardBusy(RuntimeError):
    """Another process holds the leaderboard's lock."""


def _holder(path: Path) -> tuple[str, int] | None:
    try:
        host, pid = path.read_text(encoding="utf-8").split()[:2]
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _stale(path: Path) -> bool:
    """A lock written by a process of this machine that no longer runs."""
    holder = _holder(path)
    if holder is None or holder[0] != socket.gethostname():
        return False
    try:
        os.kill(holder[1], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{socket.gethostname()} {os.getpid()}\n")
    return True


@contextmanager
def leaderboard_lock(
    leaderboard_dir: str | Path, timeout: float = DEFAULT_TIMEOUT_S, poll: float = 0.05
) -> Iterator[Path]:
    """Hold ``LEADERBOARD/.leaderboard.lock`` inside; ``LeaderboardBusy`` after ``timeout`` s."""
    root = Path(leaderboard_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    deadline = time.monotonic() + max(0.0, timeout)
    while not _try_create(path):
        if _stale(path):
            path.unlink(missing_ok=True)
            continue
        if time.monotonic() >= deadline:
            holder = _holder(path)
            who = f"process {holder[1]} on {holder[0]}" if holder else "another process"
            raise LeaderboardBusy(
                f"lock: {path} is held by {who}: another submit or verify is writing to {root} "
                f"(waited {timeout:g} s); if none is running, delete the lock file"
            )
        time.sleep(poll)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
