"""Reading and writing result records (and other JSON outputs) safely.

Files are written atomically: the full text is serialised first, written to a temporary file in
the same folder and moved into place with ``os.replace``, so a failure never leaves half a file.
Non-finite floats are written as ``null`` (strict JSON); ``load_record`` turns null metric values
back into NaN.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jepa_bench.record.schema import validate_record


class RecordError(ValueError):
    """A result record that cannot be read or is invalid; the message names the file."""


def to_jsonable(obj: Any, where: str = "$") -> Any:
    """Plain JSON types from dicts, lists, numpy/torch scalars and arrays; NaN/inf -> None.

    Anything else raises ``TypeError`` naming where it sits (e.g. ``$.task.details.x``).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: object keys must be strings, got {k!r}")
            out[k] = to_jsonable(v, f"{where}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy / torch scalars and arrays
        return to_jsonable(obj.tolist(), where)
    raise TypeError(f"{where}: {type(obj).__name__} is not JSON serialisable")


def move_into_place(tmp: str | Path, path: str | Path) -> None:
    """``os.replace`` a finished temporary file onto ``path`` with the usual permissions
    (``mkstemp`` creates files readable by their owner only)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        move_into_place(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dumps(obj: Any) -> str:
    """Strict, indented JSON text (NaN/inf as null) with a trailing newline."""
    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(path: str | Path, obj: Any) -> None:
    """Serialise ``obj`` completely, then write it atomically (e.g. evaluation details)."""
    atomic_write_text(path, dumps(obj))


def write_record(path: str | Path, record: dict[str, Any]) -> None:
    """Validate and atomically write a record; raises ``RecordError`` when it is invalid."""
    problems = validate_record(record)
    if problems:
        raise RecordError(
            f"{path}: refusing to write an invalid record:\n  - " + "\n  - ".join(problems)
        )
    atomic_write_text(path, dumps(record))


def _nan_metrics(record: dict[str, Any]) -> None:
    """null metric values (how NaN is stored) -> float NaN, in place."""
    for part in ("metrics", "untrained_metrics"):
        metrics = record.get(part)
        if isinstance(metrics, dict):
            for entry in metrics.values():
                if isinstance(entry, dict) and "value" in entry and entry["value"] is None:
                    entry["value"] = math.nan


def parse_record(text: str, source: str = "<record>") -> dict[str, Any]:
    """Parse and validate record text; ``RecordError`` names ``source`` and every problem."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f"{source}: not valid JSON ({e})") from e
    if isinstance(record, dict):
        _nan_metrics(record)
    problems = validate_record(record)
    if problems:
        raise RecordError(f"{source}: invalid result record:\n  - " + "\n  - ".join(problems))
    return record


def load_record(path: str | Path) -> dict[str, Any]:
    """Read and validate a record file (NaN metrics come back as float NaN)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(f"{path}: not UTF-8 text ({e})") from e
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record (a run directory holds result.json)") from None
    except OSError as e:
        raise RecordError(f"{path}: cannot be read ({e.strerror})") from None
    return parse_record(text, str(path))


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (for the record's checkpoint entry)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
