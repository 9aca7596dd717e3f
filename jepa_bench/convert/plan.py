"""The conversion plan printed before decoding: what is written, and memory and size estimates."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jepa_bench.convert.lerobot_meta import EpisodeMeta
from jepa_bench.convert.video import Resizer, VideoProbe

MiB = 2**20
QUEUE_FRAMES = 8  # decoded frames waiting between the decode thread and the writer
# Decoder memory beyond what opening the video headers already took, calibrated on libdav1d at
# 480x640: a fixed part plus pools of YUV 4:2:0 pictures.
DECODER_FIXED_MB = 15.0
DECODER_FRAMES = 32
RUNTIME_MB = 5.0  # worker threads, progress bar


def current_rss_mb() -> float:
    """Resident memory of this process in MiB (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / MiB


@dataclass
class CameraPlan:
    """One camera to write: where from, at which size, into which dataset or file."""

    key: str
    probe: VideoProbe
    resizer: Resizer
    dataset: str = "pixels"
    file: Path | None = None  # None: the main output file


@dataclass
class Plan:
    """Everything decided before the first frame is decoded."""

    episodes: list[EpisodeMeta]
    cameras: list[CameraPlan]
    columns: dict[str, tuple[str, int]]  # output name -> (source key, width)
    micro_batch: int
    compression: str
    dropped: list[int] = field(default_factory=list)
    base_rss_mb: float = 0.0  # resident memory before any video was opened

    @property
    def n_frames(self) -> int:
        return sum(e.length for e in self.episodes)

    def estimates(self, decode_threads: int = 0) -> dict[str, float]:
        """Uncompressed output size and peak memory, in MiB."""
        n = self.n_frames
        px = [c.resizer.out_hw[0] * c.resizer.out_hw[1] * 3 for c in self.cameras]
        src = max(c.probe.height * c.probe.width for c in self.cameras)
        row_bytes = sum(4 * w for _k, w in self.columns.values()) + 8 * 4 + 4 + 1
        rows_per_file = Counter(e.data_path for e in self.episodes)
        biggest_file = max(rows_per_file.values(), default=0)
        threads = decode_threads or 2
        memory = {
            "process_before_video": self.base_rss_mb or current_rss_mb(),
            "parquet_file": 3 * biggest_file * row_bytes / MiB,  # arrow table + numpy copies
            "chunk_buffers": self.micro_batch * sum(px) / MiB,
            "decode_queue": QUEUE_FRAMES * max(px) / MiB,
            "decoder": DECODER_FIXED_MB + (DECODER_FRAMES + threads) * src * 1.5 / MiB,
            "hdf5": 2.0 * len(self.cameras) + self.micro_batch * max(px) / MiB,  # filter buffer
            "runtime": RUNTIME_MB,
        }
        return {
            "output_uncompressed_mb": n * (sum(px) + row_bytes) / MiB,
            "pixels_uncompressed_mb": n * sum(px) / MiB,
            "peak_memory_mb": sum(memory.values()),
            **{f"memory_{k}_mb": v for k, v in memory.items()},
        }

    def describe(self, source: str, version: str, fps: float, out: Path) -> list[str]:
        """The plan as lines of text."""
        est = self.estimates()
        lines = [
            f"plan: {len(self.episodes)} episodes, {self.n_frames} frames "
            f"from {source} (LeRobot {version}, {fps:g} fps)",
        ]
        for c in self.cameras:
            p, r = c.probe, c.resizer
            where = f"{c.file.name}:{c.dataset}" if c.file else c.dataset
            lines.append(
                f"  camera {c.key}: {p.codec} {p.height}x{p.width} -> {where} "
                f"{r.out_hw[0]}x{r.out_hw[1]} ({r.fit}, {r.interp.lower()})"
            )
        cols = ", ".join(f"{k} <- {src} ({w})" for k, (src, w) in self.columns.items())
        lines.append(f"  columns: {cols}")
        lines.append(f"  chunk rows = micro-batch = {self.micro_batch}, {self.compression}")
        if self.dropped:
            lines.append(f"  dropped before decoding: episodes {self.dropped}")
        lines.append(
            f"  output: {est['output_uncompressed_mb']:.1f} MiB uncompressed (an upper bound), "
            f"built as {out.name}.tmp and renamed when complete"
        )
        lines.append(
            f"  estimated peak memory: {est['peak_memory_mb']:.0f} MiB (process "
            f"{est['memory_process_before_video_mb']:.0f}, "
            f"parquet {est['memory_parquet_file_mb']:.1f}, "
            f"buffers {est['memory_chunk_buffers_mb'] + est['memory_decode_queue_mb']:.1f}, "
            f"decoder {est['memory_decoder_mb']:.1f}, hdf5 {est['memory_hdf5_mb']:.1f})"
        )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "episodes": [e.index for e in self.episodes],
            "frames": self.n_frames,
            "cameras": [
                {
                    "key": c.key,
                    "codec": c.probe.codec,
                    "source_hw": [c.probe.height, c.probe.width],
                    "out_hw": list(c.resizer.out_hw),
                    "dataset": c.dataset,
                    "file": str(c.file) if c.file else None,
                }
                for c in self.cameras
            ],
            "columns": {k: {"source": s, "width": w} for k, (s, w) in self.columns.items()},
            "dropped_before_decoding": self.dropped,
            **self.estimates(),
        }
