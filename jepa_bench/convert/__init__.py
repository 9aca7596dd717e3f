"""LeRobot (parquet + mp4) to LeWM HDF5 conversion, and the HDF5 layout's reader and checks.

The reader (``open_lewm_h5``) imports only h5py and numpy; the converter, which needs PyAV and
pyarrow, is imported on first use.
"""

from __future__ import annotations

from typing import Any

from jepa_bench.convert.layout import LewmH5, check_lewm_h5, open_lewm_h5, summarize
from jepa_bench.convert.report import ConversionError, ConversionReport, DirtyDataError, Issue

_LAZY = {
    "ConvertOptions": "jepa_bench.convert.pipeline",
    "convert_lerobot": "jepa_bench.convert.pipeline",
    "write_lerobot_dataset": "jepa_bench.convert.lerobot_writer",
}

__all__ = [
    "ConversionError",
    "ConversionReport",
    "ConvertOptions",
    "DirtyDataError",
    "Issue",
    "LewmH5",
    "check_lewm_h5",
    "convert_lerobot",
    "open_lewm_h5",
    "summarize",
    "write_lerobot_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
