"""Read a local LeRobot dataset (v2.0/v2.1 or v3.0) into one episode table, without lerobot.

v2.x keeps one parquet and one mp4 per episode; v3.0 packs many episodes into shared parquet and
mp4 files and locates an episode's frames by ``from_timestamp`` within its camera's mp4.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jepa_bench.convert.report import BadSourceError, ConversionError

V2, V3 = "v2.1", "v3.0"
CORE_COLUMNS = ("episode_index", "frame_index", "timestamp", "index", "task_index")
DONE_KEY = "next.done"


class ParquetReadError(ConversionError):
    """A parquet file that cannot be read."""


@dataclass(frozen=True)
class VideoRef:
    """Where an episode's frames of one camera live: ``path`` from ``from_ts`` to ``to_ts``."""

    path: Path
    from_ts: float = 0.0
    to_ts: float | None = None  # None: the end of the file


@dataclass
class EpisodeMeta:
    """One episode as declared by the metadata."""

    index: int
    length: int
    data_path: Path
    videos: dict[str, VideoRef] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    from_index: int | None = None  # v3.0: global row range [from_index, to_index)
    to_index: int | None = None


@dataclass
class LeRobotSource:
    """A LeRobot dataset on disk: ``info.json``, features and the episode table."""

    root: Path
    layout: str  # V2 or V3
    info: dict[str, Any]
    episodes: list[EpisodeMeta]

    @property
    def codebase_version(self) -> str:
        return str(self.info.get("codebase_version", "?"))

    @property
    def fps(self) -> float:
        return float(self.info["fps"])

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        return self.info.get("features", {})

    @property
    def camera_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f.get("dtype") == "video"]

    @property
    def image_keys(self) -> list[str]:
        """Cameras stored as images inside the parquet (not supported by the converter)."""
        return [k for k, f in self.features.items() if f.get("dtype") == "image"]

    @property
    def n_frames(self) -> int:
        return sum(e.length for e in self.episodes)

    def width(self, key: str) -> int:
        """Values per row of the numeric feature ``key`` (the product of its declared shape)."""
        raw = self.features[key].get("shape", [1])
        try:
            dims = [int(x) for x in raw]
        except (TypeError, ValueError) as exc:
            raise BadSourceError(
                f"{self.root}/meta/info.json: feature {key!r} has shape {raw!r}, "
                "not a list of integers"
            ) from exc
        if any(d < 1 for d in dims):
            raise BadSourceError(
                f"{self.root}/meta/info.json: feature {key!r} has shape {dims}, with a size < 1"
            )
        return int(np.prod(dims))


def declared_hwc(feature: dict[str, Any], key: str = "") -> tuple[int, int, int, bool]:
    """(H, W, C, channel_first) of a camera feature, reading ``names`` when present."""
    what = f"info.json: camera feature {key!r}" if key else "camera feature"
    raw = feature.get("shape", [])
    try:
        shape = [int(x) for x in raw]
    except (TypeError, ValueError) as exc:
        raise BadSourceError(f"{what}: shape {raw!r} is not a list of integers") from exc
    names_raw = feature.get("names") or []
    names = [str(n).lower() for n in names_raw] if isinstance(names_raw, list) else []
    if len(shape) != 3:
        raise BadSourceError(f"{what} has shape {shape}, expected 3 dimensions")
    if names[:1] in (["channels"], ["channel"], ["c"]):
        return shape[1], shape[2], shape[0], True
    if names[-1:] in (["channels"], ["channel"], ["c"]):
        return shape[0], shape[1], shape[2], False
    if shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
        return shape[1], shape[2], shape[0], True
    return shape[0], shape[1], shape[2], False


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BadSourceError(f"{path}: missing (is this a LeRobot dataset folder?)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSourceError(f"{path}: unreadable ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise BadSourceError(f"{path}: invalid JSON ({exc})") from exc


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BadSourceError(f"{path}: missing")
    rows = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSourceError(f"{path}: unreadable ({exc})") from exc
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadSourceError(f"{path}:{n}: invalid JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise BadSourceError(f"{path}:{n}: expected a JSON object, got {_kind(row)}")
            rows.append(row)
    return rows


def _kind(value: Any) -> str:
    """The JSON type of ``value``, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"
    return names.get(type(value), type(value).__name__)


def check_info(info: Any, where: str) -> dict[str, Any]:
    """``info.json`` as a dict, its required keys present and of the right type.

    Raises ``BadSourceError`` naming the file and the key.
    """
    if not isinstance(info, dict):
        raise BadSourceError(f"{where}: expected a JSON object, got {_kind(info)}")
    for key in ("fps", "features", "data_path"):
        if key not in info:
            raise BadSourceError(f"{where}: no {key!r}")
    fps = info["fps"]
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise BadSourceError(f"{where}: 'fps' must be a positive number, got {fps!r}")
    if not isinstance(info["features"], dict):
        raise BadSourceError(
            f"{where}: 'features' must be an object, got {_kind(info['features'])}"
        )
    for name, feature in info["features"].items():
        if not isinstance(feature, dict):
            raise BadSourceError(
                f"{where}: feature {name!r} must be an object, got {_kind(feature)}"
            )
    videos = [k for k, f in info["features"].items() if f.get("dtype") == "video"]
    for key in ("data_path", *(["video_path"] if videos else [])):
        if not isinstance(info.get(key), str):
            raise BadSourceError(f"{where}: {key!r} must be a string, got {_kind(info.get(key))}")
    for key in ("total_episodes", "total_frames", "chunks_size"):
        value = info.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadSourceError(f"{where}: {key!r} must be an integer, got {value!r}")
    return info


def _format_path(template: str, where: str, **fields: Any) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise BadSourceError(
            f"{where}: path template {template!r} has an unknown field ({exc}); "
            f"known: {sorted(fields)}"
        ) from exc


def read_source(root: str | Path) -> LeRobotSource:
    """Read ``meta/`` of the dataset at ``root`` into a ``LeRobotSource`` (no video is opened)."""
    root = Path(root)
    if not root.is_dir():
        raise BadSourceError(f"{root}: not a folder (a LeRobot dataset is a folder with meta/)")
    info_path = root / "meta" / "info.json"
    info = check_info(_read_json(info_path), str(info_path))
    version = str(info.get("codebase_version", ""))
    if version in ("v2.0", "v2.1"):
        episodes = _episodes_v2(root, info)
        layout = V2
    elif version == "v3.0":
        episodes = _episodes_v3(root, info)
        layout = V3
    else:
        raise BadSourceError(
            f"{info_path}: codebase_version {version!r} is not supported (v2.0, v2.1 and v3.0 are)"
        )
    return LeRobotSource(root, layout, info, sorted(episodes, key=lambda e: e.index))


def _episodes_v2(root: Path, info: dict[str, Any]) -> list[EpisodeMeta]:
    chunks = int(info.get("chunks_size") or 1000)
    cams = [k for k, f in info["features"].items() if f.get("dtype") == "video"]
    where = str(root / "meta" / "info.json")
    jsonl = root / "meta" / "episodes.jsonl"
    out = []
    for n, row in enumerate(_read_jsonl(jsonl), 1):
        i, length = (_int_field(row, k, f"{jsonl}:{n}") for k in ("episode_index", "length"))
        chunk = i // chunks
        data = _format_path(info["data_path"], where, episode_chunk=chunk, episode_index=i)
        videos = {
            k: VideoRef(
                root
                / _format_path(
                    info["video_path"], where, episode_chunk=chunk, video_key=k, episode_index=i
                )
            )
            for k in cams
        }
        tasks = row.get("tasks") or []
        tasks = [str(t) for t in tasks] if isinstance(tasks, list) else [str(tasks)]
        out.append(EpisodeMeta(i, length, root / data, videos, tasks))
    return out


def _int_field(row: dict[str, Any], key: str, where: str) -> int:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise BadSourceError(f"{where}: {key!r} must be an integer, got {value!r}")
    return int(value)


def _episodes_v3(root: Path, info: dict[str, Any]) -> list[EpisodeMeta]:
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise BadSourceError(f"{root}/meta/episodes: no episode parquet files")
    cams = [k for k, f in info["features"].items() if f.get("dtype") == "video"]
    table = {}
    try:
        parts = [pq.read_table(f) for f in files]
        merged = pa.concat_tables(parts, promote_options="default")
    except (pa.ArrowException, OSError) as exc:
        raise BadSourceError(f"{root}/meta/episodes: unreadable parquet ({exc})") from exc
    need = ["episode_index", "length", "data/chunk_index", "data/file_index"]
    for k in cams:
        need += [f"videos/{k}/{c}" for c in ("chunk_index", "file_index", "from_timestamp")]
    missing = [c for c in need if c not in merged.column_names]
    if missing:
        raise BadSourceError(f"{root}/meta/episodes: missing columns {missing}")
    for name in merged.column_names:
        if name in need or name.startswith("videos/") or name.startswith("dataset_"):
            table[name] = merged.column(name).to_pylist()
    tasks = merged.column("tasks").to_pylist() if "tasks" in merged.column_names else None
    where = str(root / "meta" / "info.json")
    ints = ["episode_index", "length", "data/chunk_index", "data/file_index"]
    ints += [f"videos/{k}/{c}" for k in cams for c in ("chunk_index", "file_index")]
    ints += [c for c in ("dataset_from_index", "dataset_to_index") if c in table]
    floats = [f"videos/{k}/from_timestamp" for k in cams]
    floats += [f"videos/{k}/to_timestamp" for k in cams if f"videos/{k}/to_timestamp" in table]
    for name in ints + floats:
        kinds: tuple[type, ...] = (int,) if name in ints else (int, float)
        bad = [v for v in table[name] if isinstance(v, bool) or not isinstance(v, kinds)]
        if bad:
            kind = "integers" if name in ints else "numbers"
            raise BadSourceError(
                f"{root}/meta/episodes: column {name!r} must hold {kind}, found {bad[0]!r}"
            )
    out = []
    for j in range(merged.num_rows):
        i = int(table["episode_index"][j])
        data = _format_path(
            info["data_path"], where,
            chunk_index=table["data/chunk_index"][j], file_index=table["data/file_index"][j],
        )  # fmt: skip
        videos = {}
        for k in cams:
            path = _format_path(
                info["video_path"], where,
                video_key=k,
                chunk_index=table[f"videos/{k}/chunk_index"][j],
                file_index=table[f"videos/{k}/file_index"][j],
            )  # fmt: skip
            to_ts = table.get(f"videos/{k}/to_timestamp", [None] * merged.num_rows)[j]
            videos[k] = VideoRef(
                root / path,
                float(table[f"videos/{k}/from_timestamp"][j]),
                None if to_ts is None else float(to_ts),
            )
        from_i = table.get("dataset_from_index", [None] * merged.num_rows)[j]
        to_i = table.get("dataset_to_index", [None] * merged.num_rows)[j]
        task_list = (tasks[j] or []) if tasks else []
        out.append(
            EpisodeMeta(
                i, int(table["length"][j]), root / data, videos,
                [str(t) for t in task_list] if isinstance(task_list, list) else [str(task_list)],
                from_i, to_i,
            )
        )  # fmt: skip
    return out


def column_to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A parquet column as numpy: scalars (N,), fixed-width lists (N, K); nulls become NaN."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        if len(arr) and (arr.null_count or (lengths != lengths[0]).any()):
            raise ValueError("rows have different lengths or are null")
        width = int(lengths[0]) if len(arr) else 0
        flat = column_to_numpy(arr.flatten())
        return flat.reshape(len(arr), width)
    if arr.null_count and (pa.types.is_floating(t) or pa.types.is_integer(t)):
        arr = pc.cast(arr, pa.float64())
        return arr.to_numpy(zero_copy_only=False)
    return arr.to_numpy(zero_copy_only=False)


def read_parquet_columns(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Read ``columns`` (those present) of a parquet file; a clear error if it is unreadable."""
    try:
        pf = pq.ParquetFile(path)
        present = [c for c in columns if c in pf.schema_arrow.names]
        table = pf.read(columns=present)
    except FileNotFoundError as exc:
        raise ParquetReadError(f"{path}: missing parquet file") from exc
    except (pa.ArrowException, OSError) as exc:
        raise ParquetReadError(f"{path}: unreadable parquet ({exc})") from exc
    out = {}
    for name in present:
        try:
            out[name] = column_to_numpy(table.column(name))
        except ValueError as exc:
            raise ParquetReadError(f"{path}: column {name!r}: {exc}") from exc
    return out


class EpisodeRows:
    """Per-episode rows of the data parquet files, keeping one file in memory at a time."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = list(dict.fromkeys([*CORE_COLUMNS, DONE_KEY, *columns]))
        self._path: Path | None = None
        self._data: dict[str, np.ndarray] = {}

    def file(self, path: Path) -> dict[str, np.ndarray]:
        if path != self._path:
            self._path, self._data = None, {}
            self._data = read_parquet_columns(path, self.columns)
            self._path = path
        return self._data

    def rows(self, ep: EpisodeMeta) -> dict[str, np.ndarray]:
        """Rows of ``ep`` in ``frame_index`` order (rows selected by ``episode_index``)."""
        data = self.file(ep.data_path)
        if "episode_index" not in data:
            raise ParquetReadError(f"{ep.data_path}: no 'episode_index' column")
        where = np.flatnonzero(data["episode_index"] == ep.index)
        if "frame_index" in data:
            where = where[np.argsort(data["frame_index"][where], kind="stable")]
        return {k: v[where] for k, v in data.items()}
