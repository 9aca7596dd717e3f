"""Stop a conversion promptly on SIGINT (Ctrl-C) or SIGTERM, wherever the main thread is.

Python's own SIGINT handler raises ``KeyboardInterrupt`` at whatever bytecode the main thread runs
next. During a conversion that is often a weakref callback or a ``__del__`` (h5py and PyAV objects
are freed all the time), where the exception is printed as "Exception ignored" and lost: the
conversion goes on as if Ctrl-C had not been pressed. SIGTERM, by default, kills the process
before any cleanup, leaving ``OUT.tmp`` behind and no report.

``InterruptGuard`` replaces both handlers while a conversion runs. The handler records the signal
and raises ``ConversionInterrupted``; ``check()``, called between stages and between frames,
raises it again if the first one was lost. While an exception is being handled (cleanup is
running: ``except``, ``finally``, ``__exit__``) the handler only records the signal, so cleanup is
never cut short. Handlers can only be installed from the main thread; elsewhere the guard does
nothing. A signal the parent process set to be ignored (a background job of a script) stays
ignored. A signal that arrives once the output is complete (``disarm()``) is passed on to the
previous handler when the guard exits.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

from jepa_bench.convert.report import ConversionInterrupted

SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class InterruptGuard:
    """Context manager turning SIGINT / SIGTERM into ``ConversionInterrupted`` (main thread)."""

    def __init__(self, signals: tuple[signal.Signals, ...] = SIGNALS) -> None:
        self.signals = signals
        self.signum: int | None = None  # the first signal received
        self.stage = "starting"  # what the conversion is doing, for the message
        self.armed = True
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.signals:
            previous = signal.getsignal(sig)
            if previous is None or previous == signal.SIG_IGN:
                continue  # installed outside Python, or deliberately ignored by the parent
            self._previous[sig] = previous
            signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        installed, self._previous = self._previous, {}
        if self.signum is not None and self.signum in installed:
            if not isinstance(exc, ConversionInterrupted):
                signal.raise_signal(self.signum)  # not acted on here: pass it on

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self.armed and sys.exc_info()[0] is None:
            raise self.error()

    def error(self) -> ConversionInterrupted:
        assert self.signum is not None
        name = signal.Signals(self.signum).name
        return ConversionInterrupted(self.signum, f"interrupted by {name} while {self.stage}")

    def check(self) -> None:
        """Raise ``ConversionInterrupted`` if a signal arrived (and its first raise was lost)."""
        if self.signum is not None and self.armed:
            raise self.error()

    def disarm(self) -> None:
        """The output is complete: from now on a signal is only recorded, then passed on."""
        self.armed = False
