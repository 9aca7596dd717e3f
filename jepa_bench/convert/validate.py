"""Checks run before any frame is decoded: metadata, parquet rows, then video headers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import av
import numpy as np

from jepa_bench.convert.lerobot_meta import (
    DONE_KEY,
    V3,
    EpisodeMeta,
    LeRobotSource,
    ParquetReadError,
    declared_hwc,
    read_parquet_columns,
)
from jepa_bench.convert.report import BadSourceError, Issue
from jepa_bench.convert.video import VideoError, VideoProbe, probe_video

CORE = ["episode_index", "frame_index", "timestamp", "index"]


def check_features(source: LeRobotSource, columns: list[str], cameras: list[str]) -> None:
    """Raise ``SourceError`` if a requested column or camera is not a feature of the dataset."""
    feats = source.features
    numeric = [k for k, f in feats.items() if f.get("dtype") not in ("video", "image")]
    for key in columns:
        if key not in feats:
            raise BadSourceError(f"no feature {key!r} in the dataset; numeric features: {numeric}")
        if key not in numeric:
            raise BadSourceError(f"feature {key!r} is a camera, not a numeric column")
    for cam in cameras:
        if cam not in source.camera_keys:
            hint = f"; image features are stored in parquet: {source.image_keys}"
            raise BadSourceError(
                f"no video feature {cam!r}; video features: {source.camera_keys}"
                + (hint if source.image_keys else "")
            )


def validate_metadata(
    source: LeRobotSource,
    columns: list[str],
    cameras: list[str],
    require_done: bool,
    episodes: list[EpisodeMeta] | None = None,
) -> list[Issue]:
    """Check the episode table and the parquet rows of ``episodes`` (default: all)."""
    check_features(source, columns, cameras)
    issues = _check_totals(source) + _check_camera_shapes(source, cameras)
    if source.layout == V3:
        issues += _check_v3_ranges(source.episodes)
    return issues + _check_parquet_rows(
        source, source.episodes if episodes is None else episodes, columns, require_done
    )


def _check_totals(source: LeRobotSource) -> list[Issue]:
    """``info.json`` totals against the episode table; duplicate episode indices."""
    issues: list[Issue] = []
    info, eps = source.info, source.episodes
    if "total_episodes" in info and int(info["total_episodes"]) != len(eps):
        msg = (
            f"info.json declares {info['total_episodes']} episodes, "
            f"the episode table has {len(eps)}"
        )
        issues.append(Issue("count_mismatch", msg))
    if "total_frames" in info and int(info["total_frames"]) != source.n_frames:
        msg = (
            f"info.json declares {info['total_frames']} frames, "
            f"the episode lengths sum to {source.n_frames}"
        )
        issues.append(Issue("count_mismatch", msg))
    seen = [e.index for e in eps]
    if len(set(seen)) != len(seen):
        issues.append(Issue("duplicate_episode", "an episode_index appears twice in the metadata"))
    return issues


def _check_camera_shapes(source: LeRobotSource, cameras: list[str]) -> list[Issue]:
    """A note per camera declared channel-first (frames are read as decoded, H x W x 3)."""
    issues: list[Issue] = []
    for cam in cameras:
        _h, _w, _c, channel_first = declared_hwc(source.features[cam], cam)
        if channel_first:
            msg = (
                f"declared shape {source.features[cam]['shape']} is "
                "channel-first; frames are read as decoded (H, W, 3)"
            )
            issues.append(Issue("channel_first_shape", msg, camera=cam, severity="note"))
    return issues


def _check_v3_ranges(eps: list[EpisodeMeta]) -> list[Issue]:
    """v3.0 ``dataset_from_index`` / ``dataset_to_index``: contiguous and equal to the lengths."""
    issues: list[Issue] = []
    prev_to = 0
    for e in eps:
        if e.from_index is None or e.to_index is None:
            continue
        if e.from_index != prev_to:
            msg = (
                f"dataset_from_index {e.from_index} does not "
                f"follow the previous episode's end {prev_to}"
            )
            issues.append(Issue("noncontiguous_rows", msg, e.index))
        if e.to_index - e.from_index != e.length:
            span = f"{e.from_index}:{e.to_index}"
            msg = f"dataset index range {span} differs from the declared length {e.length}"
            issues.append(Issue("length_mismatch", msg, e.index))
        prev_to = e.to_index
    return issues


def _check_parquet_rows(
    source: LeRobotSource, eps: list[EpisodeMeta], columns: list[str], require_done: bool
) -> list[Issue]:
    """Each parquet file read once; the rows of each of ``eps`` checked (``_check_rows``)."""
    issues: list[Issue] = []
    by_file: dict[Path, list[EpisodeMeta]] = defaultdict(list)
    for e in eps:
        by_file[e.data_path].append(e)
    widths = {key: source.width(key) for key in columns}
    for path, file_eps in by_file.items():
        try:
            data = read_parquet_columns(path, [*CORE, DONE_KEY, *columns])
        except ParquetReadError as exc:
            issues += [Issue("corrupt_parquet", str(exc), e.index) for e in file_eps]
            continue
        missing = [c for c in [*CORE, *columns] if c not in data]
        if missing:
            msg = f"{path}: missing columns {missing}"
            issues += [Issue("corrupt_parquet", msg, e.index) for e in file_eps]
            continue
        for e in file_eps:
            issues += _check_rows(e, data, widths, require_done)
    return issues


def _check_rows(
    e: EpisodeMeta, data: dict[str, np.ndarray], widths: dict[str, int], require_done: bool
) -> list[Issue]:
    out: list[Issue] = []
    where = np.flatnonzero(data["episode_index"] == e.index)
    n = len(where)
    if n == 0:
        msg = f"{e.data_path.name} has no rows for this episode"
        return [Issue("empty_episode", msg, e.index)]
    if n != e.length:
        msg = f"{n} parquet rows, declared length {e.length}"
        out.append(Issue("length_mismatch", msg, e.index))
    if where[-1] - where[0] + 1 != n:
        out.append(Issue("noncontiguous_rows", "rows are not one contiguous block", e.index))
    frame = data["frame_index"][where]
    if not np.array_equal(np.sort(frame), np.arange(n)):
        bad = np.flatnonzero(np.sort(frame) != np.arange(n))
        at = int(bad[0]) if len(bad) else 0
        out.append(
            Issue(
                "frame_index_gap",
                f"frame_index is not 0..{n - 1} without gaps (first difference at position {at})",
                e.index,
            )
        )
    elif not np.array_equal(frame, np.arange(n)):
        out.append(Issue("noncontiguous_rows", "rows are not in frame_index order", e.index))
    ts = data["timestamp"][where][np.argsort(frame, kind="stable")].astype(np.float64)
    if not np.isfinite(ts).all() or (np.diff(ts) <= 0).any():
        out.append(Issue("timestamp_order", "timestamps are not finite and increasing", e.index))
    if e.from_index is not None:
        idx = data["index"][where]
        if idx.min() != e.from_index or idx.max() != e.from_index + n - 1:
            last = "?" if e.to_index is None else e.to_index - 1
            out.append(
                Issue(
                    "length_mismatch",
                    f"'index' spans {idx.min()}..{idx.max()}, metadata says {e.from_index}..{last}",
                    e.index,
                )
            )
    order = where[np.argsort(frame, kind="stable")]
    for key, width in widths.items():
        values = data[key][order]  # (n,) or (n, K)
        if values.dtype.kind not in "biuf" or values.size != n * width:
            got = f"{values.size / n:g}" if values.dtype.kind in "biuf" else str(values.dtype)
            msg = f"{key!r} rows hold {got} value(s), info.json declares {width} per row"
            out.append(Issue("column_shape", msg, e.index))
            continue
        finite = np.isfinite(values.astype(np.float64).reshape(n, width)).all(axis=1)
        if not finite.all():
            n_bad, first = int((~finite).sum()), int(np.argmin(finite))
            msg = f"{key!r} has NaN or infinite values ({n_bad} rows, first at frame {first})"
            out.append(Issue("nan_values", msg, e.index))
    if DONE_KEY in data:
        done = data[DONE_KEY][where][np.argsort(frame, kind="stable")]
        done = np.nan_to_num(done.astype(np.float64)).astype(bool)
        if not done[-1]:
            out.append(Issue("missing_done", f"{DONE_KEY} is False at the last row", e.index))
        if done[:-1].any():
            first = int(np.argmax(done[:-1]))
            out.append(Issue("early_done", f"{DONE_KEY} is True at frame {first}", e.index))
    elif require_done:
        out.append(Issue("missing_done", f"no {DONE_KEY!r} column (required)", e.index))
    return out


def check_video_ranges(source: LeRobotSource, episodes: list[EpisodeMeta], cameras: list[str]):
    """v3.0: each episode's [from_timestamp, to_timestamp) spans its rows and none overlap."""
    issues: list[Issue] = []
    tol = 0.5 / source.fps
    for cam in cameras:
        by_file: dict[Path, list[EpisodeMeta]] = defaultdict(list)
        for e in episodes:
            by_file[e.videos[cam].path].append(e)
        for file_eps in by_file.values():
            prev_end, prev_ep = None, None
            for e in sorted(file_eps, key=lambda e: e.videos[cam].from_ts):
                ref = e.videos[cam]
                span = e.length / source.fps
                if ref.to_ts is not None and abs(ref.to_ts - ref.from_ts - span) > tol:
                    msg = (
                        f"video range {ref.from_ts:.4f}..{ref.to_ts:.4f} s lasts "
                        f"{ref.to_ts - ref.from_ts:.4f} s, {e.length} rows at {source.fps:g} fps "
                        f"last {span:.4f} s"
                    )
                    issues.append(Issue("video_range", msg, e.index, cam))
                elif prev_end is not None and ref.from_ts < prev_end - tol:
                    msg = f"video range starts at {ref.from_ts:.4f} s, inside episode {prev_ep}"
                    issues.append(Issue("video_range", msg, e.index, cam))
                prev_end = ref.to_ts if ref.to_ts is not None else ref.from_ts + span
                prev_ep = e.index
    return issues


def probe_videos(
    source: LeRobotSource, episodes: list[EpisodeMeta], cameras: list[str]
) -> tuple[list[Issue], dict[Path, VideoProbe]]:
    """Read every video header once: codec, size, frame count and duration against the rows."""
    issues = check_video_ranges(source, episodes, cameras) if source.layout == V3 else []
    probes: dict[Path, VideoProbe] = {}
    failed: dict[Path, VideoError] = {}
    tol = 0.5 / source.fps
    for cam in cameras:
        h, w, _c, _cf = declared_hwc(source.features[cam], cam)
        size_reported = False
        for e in episodes:
            ref = e.videos[cam]
            if ref.path not in probes and ref.path not in failed:
                try:
                    probes[ref.path] = probe_video(ref.path)
                except VideoError as exc:
                    failed[ref.path] = exc
            if ref.path in failed:
                err = failed[ref.path]
                issues.append(Issue(err.kind, str(err), e.index, cam))
                continue
            p = probes[ref.path]
            if (p.height, p.width) != (h, w) and not size_reported:
                size_reported = True
                issues.append(
                    Issue(
                        "shape_mismatch",
                        f"declared {h}x{w}, the video is "
                        f"{p.height}x{p.width} (the video's size is used)",
                        camera=cam,
                    )
                )
            if source.layout == V3:
                end = ref.from_ts + e.length / source.fps
                if p.duration_s is not None and end > p.duration_s + tol:
                    issues.append(
                        Issue(
                            "video_truncated",
                            f"{ref.path.name} lasts {p.duration_s:.3f} s, "
                            f"the episode ends at {end:.3f} s",
                            e.index,
                            cam,
                        )
                    )
            elif p.n_frames and p.n_frames < e.length:
                issues.append(
                    Issue(
                        "video_truncated",
                        f"{ref.path.name} has {p.n_frames} frames for {e.length} rows",
                        e.index,
                        cam,
                    )
                )
            elif p.n_frames and p.n_frames > e.length:
                issues.append(
                    Issue(
                        "extra_frames",
                        f"{ref.path.name} has {p.n_frames} frames for "
                        f"{e.length} rows; the extra frames are not written",
                        e.index,
                        cam,
                    )
                )
    return issues, probes


def decodable(codec: str) -> bool:
    """Whether this PyAV build can decode ``codec`` (an FFmpeg codec name such as "av1")."""
    try:
        av.codec.Codec(codec, "r")
    except Exception:
        return False
    return True
