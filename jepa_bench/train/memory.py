"""Keep glibc from returning activation memory to the OS between training steps.

On CPU, PyTorch allocates each activation with malloc. glibc serves blocks above its mmap
threshold (at most 32 MB) with fresh mmap calls and trims the heap top after large frees, so
every training step page-faults its whole activation footprint again: on our 2-core machines
convnext_mlp spent as much time in the kernel as in arithmetic. Raising the trim threshold keeps
freed heap memory for the next step; models keep single activations under 32 MB (see
``convnext_mlp.Branch``) so they come from the heap, not from mmap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest accepted value on 64-bit
TRIM_THRESHOLD = 1 << 30

_done = False


def tune_malloc() -> bool:
    """Apply the thresholds once per process; True when glibc accepted them (Linux only)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    _done = ok
    return ok
