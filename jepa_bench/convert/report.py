"""Issues found while converting, the errors that stop a conversion, and the JSON report."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Policy = Literal["fail", "drop", "warn"]
POLICIES: tuple[str, ...] = ("fail", "drop", "warn")
REPORT_SCHEMA_VERSION = 1

# Issue kinds after which an episode cannot be written even under the "warn" policy.
UNRECOVERABLE: frozenset[str] = frozenset(
    {
        "corrupt_parquet",
        "missing_video",
        "video_unreadable",
        "unknown_codec",
        "video_truncated",
        "timestamp_mismatch",
        "decode_error",
        "empty_episode",
        "timestamp_order",
        "video_range",
        "nan_values",  # the layout holds finite values only: such a file would fail inspect
        "column_shape",  # rows that do not fit the declared shape cannot be written
    }
)


class ConversionError(RuntimeError):
    """A conversion that cannot go on; the message says what is wrong and where."""


class SourceError(ConversionError):
    """The source dataset as a whole is unusable (missing metadata, unknown version, ...)."""


class BadInputError(ConversionError):
    """An input that cannot be used as given: an option, the output path or a malformed metadata
    file. The message is one line naming it; ``jepa-bench convert`` exits with code 2."""


class OptionError(BadInputError, ValueError):
    """An option out of range or naming something the source lacks."""


class OutputExistsError(BadInputError, FileExistsError):
    """The output exists and ``overwrite`` was not given; nothing was touched."""


class BadSourceError(SourceError, BadInputError):
    """Malformed metadata (``info.json``, the episode table), or an option (``--camera``,
    ``--action-key``, ``--episodes``) naming something the source does not have."""


class ConversionInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the conversion; ``signum`` says which. Nothing was written.

    A ``KeyboardInterrupt``, so that code catching ``Exception`` does not swallow it.
    """

    def __init__(self, signum: int, message: str) -> None:
        self.signum = signum
        super().__init__(message)


class DirtyDataError(ConversionError):
    """Dirty episodes under ``dirty_episode_policy="fail"``; ``issues`` lists all of them."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        lines = [f"  - {i.describe()}" for i in issues[:20]]
        more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
        super().__init__(
            f"{len(issues)} issue(s) in the source (dirty_episode_policy=fail):\n"
            + "\n".join(lines)
            + more
        )


class EpisodeError(ConversionError):
    """A problem confined to one episode, found while decoding its video."""

    def __init__(self, kind: str, episode: int, message: str, camera: str | None = None) -> None:
        self.issue = Issue(kind=kind, episode=episode, camera=camera, message=message)
        super().__init__(self.issue.describe())


@dataclass
class Issue:
    """One problem in the source. ``episode`` is None for dataset-wide problems."""

    kind: str
    message: str
    episode: int | None = None
    camera: str | None = None
    severity: Literal["dirty", "note"] = "dirty"
    action: str = ""  # what the converter did: failed | dropped | kept | noted

    @property
    def recoverable(self) -> bool:
        """Whether the episode can still be written as it is (``warn`` keeps it)."""
        return self.kind not in UNRECOVERABLE

    def describe(self) -> str:
        where = "dataset" if self.episode is None else f"episode {self.episode}"
        if self.camera:
            where += f" camera {self.camera}"
        return f"[{self.kind}] {where}: {self.message}"


def resolve_policy(issues: list[Issue], policy: str) -> tuple[set[int], list[Issue]]:
    """Apply ``policy`` to ``issues``: return the episodes to drop and the issues that fail the run.

    Notes never fail or drop. Under "fail" every dirty issue fails; under "drop" dirty episodes are
    dropped; under "warn" they are kept unless the issue is unrecoverable. Dataset-wide dirty
    issues fail under "fail" and are kept with a warning otherwise.
    """
    if policy not in POLICIES:
        raise ValueError(f"dirty_episode_policy must be one of {POLICIES}, got {policy!r}")
    drop: set[int] = set()
    failing: list[Issue] = []
    for issue in issues:
        if issue.severity == "note":
            issue.action = "noted"
        elif policy == "fail":
            issue.action = "failed"
            failing.append(issue)
        elif issue.episode is None:
            issue.action = "kept"
        elif policy == "drop" or not issue.recoverable:
            issue.action = "dropped"
            drop.add(issue.episode)
        else:
            issue.action = "kept"
    return drop, failing


@dataclass
class ConversionReport:
    """Everything a conversion found and did; written as JSON beside the output."""

    source: str
    output: str
    options: dict[str, Any]
    status: str = "running"  # running | ok | failed | interrupted | dry-run
    plan: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    episodes_written: list[int] = field(default_factory=list)
    episodes_dropped: list[int] = field(default_factory=list)
    frames_written: int = 0
    max_timestamp_error_s: float = 0.0
    seconds: float = 0.0
    error: str | None = None
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def add(self, issue: Issue) -> Issue:
        self.issues.append(issue)
        return issue

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema_version"] = REPORT_SCHEMA_VERSION
        d["frames_per_s"] = self.frames_written / self.seconds if self.seconds > 0 else None
        return d

    def write(self, path: str | Path) -> Path:
        """Write the report atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        os.replace(tmp, path)
        return path
