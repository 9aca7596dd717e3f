"""Resolve a conversion source: a local LeRobot folder, or a Hugging Face Hub dataset repo id."""

from __future__ import annotations

import re
from pathlib import Path

from jepa_bench.convert.report import SourceError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_source(
    source: str | Path, revision: str | None = None, cameras: list[str] | None = None
) -> tuple[Path, str]:
    """Return (local folder, label for provenance) for ``source``.

    A path that exists is used as it is. Otherwise ``source`` must look like ``owner/name`` and is
    downloaded with ``huggingface_hub.snapshot_download`` (the optional ``hub`` extra); with
    ``cameras`` given, only those cameras' videos are fetched.
    """
    path = Path(source).expanduser()
    if path.exists():
        return path, str(path.resolve())
    text = str(source)
    if not REPO_ID.match(text):
        raise SourceError(f"{text}: no such folder, and not a Hub repo id of the form owner/name")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise SourceError(
            f"{text} is not a local folder; downloading it from the Hugging Face Hub needs the "
            "optional dependency: pip install 'jepa-bench[hub]' (or pass a local LeRobot folder)"
        ) from exc
    patterns = None
    if cameras:
        patterns = ["meta/*", "data/*", *[f"videos/*{cam}/*" for cam in cameras]]
    try:
        local = snapshot_download(
            repo_id=text, repo_type="dataset", revision=revision, allow_patterns=patterns
        )
    except Exception as exc:  # network, auth, unknown repo: all end the conversion
        raise SourceError(f"{text}: download from the Hugging Face Hub failed ({exc})") from exc
    label = f"hf://datasets/{text}" + (f"@{revision}" if revision else "")
    return Path(local), label
