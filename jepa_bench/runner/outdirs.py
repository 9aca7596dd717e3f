"""Folders a run writes into (``--out``, ``--data-dir``, ``--leaderboard-dir``), checked before
anything is written: each must be a directory, or creatable, by this process."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jepa_bench.config import ConfigError, RunConfig


def check_dir(key: str, path: str | os.PathLike[str]) -> None:
    """Raise ``ConfigError(key)`` unless ``path`` is a directory this process can write into, or
    one it can create. The test creates and removes an empty folder, so it leaves nothing."""
    target = Path(path).expanduser()
    existing = target
    while not (existing.exists() or existing.is_symlink()):
        existing = existing.parent
    if not existing.is_dir():
        why = (
            "is not a directory"
            if existing == target
            else f"cannot be made: {existing} is not a directory"
        )
        raise ConfigError(key, f"{target} {why}")
    try:
        probe = tempfile.mkdtemp(prefix=".write-check-", dir=existing)
    except OSError as e:
        what = "write into" if existing == target else f"create it in {existing}"
        raise ConfigError(key, f"{target}: cannot {what} ({e.strerror or e})") from None
    os.rmdir(probe)


def check_output_dirs(
    cfg: RunConfig, leaderboard_dir: str | os.PathLike[str] | None = None
) -> None:
    """The folders a run of ``cfg`` writes into; ``ConfigError`` names the first unusable one."""
    check_dir("out", cfg.out)
    if cfg.data_dir is not None:
        check_dir("data_dir", cfg.data_dir)
    if leaderboard_dir is not None:
        check_dir("--leaderboard-dir", leaderboard_dir)
