"""Stream frames out of an mp4 with PyAV, matched to parquet rows by timestamp, and resized.

Nothing here holds more than one decoded frame (plus the decoder's own reference frames): frames
are yielded one at a time, converted to RGB at the output size by swscale.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, TypeVar

import av
import numpy as np

from jepa_bench.convert.report import EpisodeError

Fit = Literal["stretch", "crop", "pad"]
FITS: tuple[str, ...] = ("stretch", "crop", "pad")
INTERPOLATIONS: tuple[str, ...] = ("bilinear", "area", "bicubic", "lanczos")
T = TypeVar("T")


class VideoError(Exception):
    """A video that cannot be used; ``kind`` is the issue kind for the report."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class VideoProbe:
    """What the container header says about a video (no frame decoded)."""

    codec: str
    height: int
    width: int
    pix_fmt: str
    n_frames: int  # 0 when the header does not say
    duration_s: float | None
    fps: float | None


def probe_video(path: Path) -> VideoProbe:
    """Read a video's header; ``VideoError`` names the file and what is wrong."""
    if not path.is_file():
        raise VideoError("missing_video", f"{path}: missing video file")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(
            "video_unreadable", f"{path}: cannot open ({exc}); truncated or not a video file?"
        ) from exc
    with container:
        if not container.streams.video:
            raise VideoError("video_unreadable", f"{path}: no video stream")
        s = container.streams.video[0]
        cc = s.codec_context
        if cc is None:
            raise VideoError(
                "unknown_codec",
                f"{path}: no decoder for this video's codec in this PyAV/FFmpeg build "
                "(AV1 via libdav1d, h264 and hevc are supported)",
            )
        duration = float(s.duration * s.time_base) if s.duration and s.time_base else None
        rate = float(s.average_rate) if s.average_rate else None
        return VideoProbe(cc.name, cc.height, cc.width, cc.pix_fmt or "?", s.frames, duration, rate)


class Resizer:
    """Turns a decoded frame into an (H, W, 3) uint8 array at the output size.

    ``fit``: "stretch" resizes to the size; "crop" keeps the aspect ratio and centre-crops;
    "pad" keeps the aspect ratio and pads with black. ``size=None`` keeps the source size
    (``src_hw``); otherwise frames of any size are accepted.
    """

    def __init__(
        self,
        src_hw: tuple[int, int],
        size: tuple[int, int] | None = (224, 224),
        fit: str = "stretch",
        interpolation: str = "bilinear",
    ) -> None:
        if fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}: {interpolation!r}")
        self.src_hw = src_hw
        self.out_hw = size or src_hw
        self.fit = fit
        self.interp = interpolation.upper()
        self._geometry: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {}

    def geometry(self, src_hw: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """(scaled H, W) and (dy, dx) offset of the output window for a source of ``src_hw``."""
        if src_hw not in self._geometry:
            sh, sw = src_hw
            oh, ow = self.out_hw
            if self.fit == "stretch" or (sh, sw) == (oh, ow):
                scaled = (oh, ow)
            else:
                scale = max(oh / sh, ow / sw) if self.fit == "crop" else min(oh / sh, ow / sw)
                scaled = (max(1, round(sh * scale)), max(1, round(sw * scale)))
            offset = ((scaled[0] - oh) // 2, (scaled[1] - ow) // 2)
            self._geometry[src_hw] = (scaled, offset)
        return self._geometry[src_hw]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (*self.out_hw, 3)

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        (h, w), (dy, dx) = self.geometry((frame.height, frame.width))
        if (h, w) == (frame.height, frame.width):
            img = frame.to_ndarray(format="rgb24")  # img: (h, w, 3)
        else:
            img = frame.reformat(
                width=w, height=h, format="rgb24", interpolation=self.interp
            ).to_ndarray()
        oh, ow = self.out_hw
        if (h, w) == (oh, ow):
            return np.ascontiguousarray(img)
        if self.fit == "crop":
            return np.ascontiguousarray(img[dy : dy + oh, dx : dx + ow])
        out = np.zeros((oh, ow, 3), dtype=np.uint8)
        out[-dy : -dy + h, -dx : -dx + w] = img
        return out


class MatchError(ValueError):
    """Rows and frames do not line up; ``kind`` is video_truncated or timestamp_mismatch."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass
class MatchStats:
    """What timestamp matching saw for one episode and camera."""

    matched: int = 0
    max_error_s: float = 0.0
    extra_frames: int = 0  # frames inside the episode's time range that match no row


def match_by_time(
    frames: Iterable[tuple[float, T]],
    targets: Sequence[float] | np.ndarray,
    tol: float,
    start_ts: float,
    end_ts: float | None,
    stats: MatchStats,
) -> Iterator[T]:
    """Yield, for each target time, the frame within ``tol`` seconds of it, in order.

    ``frames`` are (time, payload) in decoding order. Frames before the first target are skipped
    (in a shared v3.0 file they belong to earlier episodes); those at or after ``start_ts`` and
    any between matched frames count as extra. A matched frame must lie in the episode's
    window [``start_ts``, ``end_ts``), so rows shifted onto a neighbouring episode are caught.
    Raises ``MatchError`` when the frames run out (``video_truncated``) or a target has no frame
    within ``tol`` or only one outside the window (``timestamp_mismatch``).
    """
    it = iter(frames)
    pending: tuple[float, T] | None = None
    for k, tau in enumerate(targets):
        while True:
            if pending is None:
                pending = next(it, None)
                if pending is None:
                    raise MatchError(
                        "video_truncated",
                        f"the video ends before row {k} (t={tau:.4f} s): "
                        f"{k} of {len(targets)} rows have a frame",
                    )
            t, payload = pending
            if t < tau - tol:
                if k > 0 or t >= start_ts - tol:
                    stats.extra_frames += 1
                pending = None
                continue
            if t > tau + tol:
                raise MatchError(
                    "timestamp_mismatch",
                    f"no frame within half a frame period ({tol * 1000:.1f} ms) of row {k} "
                    f"(t={tau:.4f} s); the next frame is at {t:.4f} s",
                )
            if t < start_ts - tol or (end_ts is not None and t > end_ts - tol):
                where = f"[{start_ts:.4f}, {end_ts:.4f})" if end_ts is not None else "range"
                raise MatchError(
                    "timestamp_mismatch",
                    f"row {k} (t={tau:.4f} s) falls on the frame at {t:.4f} s, outside the "
                    f"episode's video {where}",
                )
            stats.max_error_s = max(stats.max_error_s, abs(t - tau))
            stats.matched += 1
            pending = None
            yield payload
            break
    nxt = next(it, None)
    if nxt is not None and (end_ts is None or nxt[0] < end_ts - tol):
        stats.extra_frames += 1


SEEK_BACKOFF_S = (0.0, 1.0, 10.0, None)  # None: decode from the start of the file


def _timed_frames(
    path: Path, start_ts: float, threads: int, tol: float = 0.0
) -> Generator[tuple[float, av.VideoFrame], None, None]:
    """(time, frame) in decoding order from the keyframe at or before ``start_ts``.

    With B-frames a seek can land on a keyframe shown after ``start_ts`` (the frames before it
    are leading pictures dropped after a seek); then the seek is retried further back.
    """
    for back in SEEK_BACKOFF_S:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = threads
            tb = stream.time_base or Fraction(1, 1)
            seek_ts = 0.0 if back is None else max(0.0, start_ts - back)
            if seek_ts > 0:
                container.seek(int(seek_ts / tb), stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                return
            if seek_ts > 0 and first.pts is not None and float(first.pts * tb) > start_ts + tol:
                continue
            for frame in itertools.chain([first], frames):
                if frame.pts is None:
                    raise av.error.InvalidDataError(0, "a decoded frame has no timestamp")
                yield float(frame.pts * tb), frame
            return


def decode_episode(
    path: Path,
    timestamps: np.ndarray,
    fps: float,
    resizer: Resizer,
    episode: int,
    camera: str,
    start_ts: float = 0.0,
    end_ts: float | None = None,
    stats: MatchStats | None = None,
    threads: int = 0,
) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 of one episode, one per row, matched at ``start_ts + timestamps``.

    Raises ``EpisodeError`` naming the episode and camera when the video ends early, a row has no
    frame within half a frame period, or the stream cannot be decoded.
    """
    stats = stats if stats is not None else MatchStats()
    targets = start_ts + np.asarray(timestamps, dtype=np.float64)
    frames = _timed_frames(path, start_ts, threads, 0.5 / fps)
    try:
        for frame in match_by_time(frames, targets, 0.5 / fps, start_ts, end_ts, stats):
            yield resizer(frame)
    except MatchError as exc:
        raise EpisodeError(exc.kind, episode, f"{path.name}: {exc}", camera) from exc
    except (av.error.FFmpegError, ValueError) as exc:
        raise EpisodeError("decode_error", episode, f"{path}: {exc}", camera) from exc
    finally:
        frames.close()
