"""Encode (H, W, 3) uint8 frames to an mp4 with PyAV (AV1 by default, as LeRobot does)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

CODEC_NAMES = {"libsvtav1": "av1", "libaom-av1": "av1", "libx264": "h264", "libx265": "hevc"}


class VideoEncoder:
    """Append (H, W, 3) uint8 frames to an mp4 at ``fps``; pts count frames unless given."""

    def __init__(
        self,
        path: str | Path,
        fps: float,
        codec: str = "libsvtav1",
        crf: int = 30,
        gop: int = 2,
        pix_fmt: str = "yuv420p",
        options: Mapping[str, str] | None = None,
    ) -> None:
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole config otherwise
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.codec, self.crf, self.gop, self.pix_fmt = codec, crf, gop, pix_fmt
        self.options = {"crf": str(crf), "g": str(gop), **(options or {})}
        self.container = av.open(str(self.path), "w")
        self.stream: Any = None
        self.n_frames = 0

    def _open_stream(self, h: int, w: int) -> None:
        self.stream = self.container.add_stream(self.codec, rate=self.fps)
        self.stream.width, self.stream.height = w, h
        self.stream.pix_fmt = self.pix_fmt
        self.stream.time_base = 1 / self.fps
        self.stream.options = dict(self.options)

    def write(self, frame: np.ndarray, pts: int | None = None) -> None:
        """Encode one frame (H, W, 3) uint8; ``pts`` in frames (default: the frame count)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        if self.stream is None:
            self._open_stream(frame.shape[0], frame.shape[1])
        elif (frame.shape[0], frame.shape[1]) != (self.stream.height, self.stream.width):
            raise ValueError(f"{self.path}: frame size changed to {frame.shape[:2]}")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.n_frames if pts is None else int(pts)
        vf.time_base = 1 / self.fps
        for packet in self.stream.encode(vf):
            self.container.mux(packet)
        self.n_frames += 1

    def abort(self) -> None:
        """Close the file after a failure, ignoring errors (the first error is the one to keep)."""
        try:
            self.container.close()
        except Exception:
            pass

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
