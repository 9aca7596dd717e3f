"""Fail fast when a conversion stops making progress.

A monitor thread records how long it has been since the last ``beat``; the converting thread asks
``check()`` between frames and raises ``StallError`` once the timeout has passed. Blocking
producers (a video decoder stuck on a broken file or a dead network mount) run in a worker thread
through ``watched``, so the consumer keeps polling and can give up on them. No signals are used,
so all of this works from any thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from jepa_bench.convert.report import ConversionError

T = TypeVar("T")
_DONE = object()


class StallError(ConversionError):
    """No progress for longer than the watchdog's timeout."""


class Watchdog:
    """Tracks progress; ``check()`` raises once nothing happened for ``timeout_s`` seconds.

    ``timeout_s <= 0`` disables it. ``heartbeat`` (if given) is called every ``heartbeat_s``
    seconds from the monitor thread with a one-line status.
    """

    def __init__(
        self,
        timeout_s: float = 120.0,
        heartbeat_s: float = 0.0,
        heartbeat: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = float(timeout_s)
        self.heartbeat_s = float(heartbeat_s)
        self._heartbeat = heartbeat
        self._clock = clock
        self._last = clock()
        self._count = 0
        self.stage = "starting"
        self._tripped = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._last = self._clock()
        if self._thread is None and (self.timeout_s > 0 or self.heartbeat_s > 0):
            self._thread = threading.Thread(target=self._monitor, name="watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def beat(self, n: int = 1) -> None:
        """Record progress (``n`` units of work done)."""
        self._count += n
        self._last = self._clock()

    def idle_s(self) -> float:
        return self._clock() - self._last

    def stalled(self) -> bool:
        return self.timeout_s > 0 and (self._tripped.is_set() or self.idle_s() > self.timeout_s)

    def check(self) -> None:
        """Raise ``StallError`` if no progress was made for longer than the timeout."""
        if self.stalled():
            raise StallError(
                f"no progress for {self.idle_s():.1f} s (stall timeout {self.timeout_s:g} s) "
                f"while {self.stage}"
            )

    def _monitor(self) -> None:
        step = min(x for x in (self.timeout_s / 4, self.heartbeat_s, 1.0) if x > 0)
        next_beat = self._clock() + self.heartbeat_s
        while not self._stop.wait(step):
            if self.timeout_s > 0 and self.idle_s() > self.timeout_s:
                self._tripped.set()
            if self._heartbeat is not None and self.heartbeat_s > 0 and self._clock() >= next_beat:
                next_beat = self._clock() + self.heartbeat_s
                self._heartbeat(
                    f"heartbeat: {self._count} frames done, last progress {self.idle_s():.0f} s "
                    f"ago, {self.stage}"
                )


def watched(
    items: Iterable[T],
    watchdog: Watchdog,
    maxsize: int = 8,
    poll_s: float = 0.05,
    interrupt: Callable[[], None] | None = None,
) -> Iterator[T]:
    """Iterate ``items`` in a worker thread, raising ``StallError`` if it stops yielding.

    At most ``maxsize`` items wait in the queue, so memory stays bounded. An exception raised by
    the producer is re-raised here. Closing this generator early asks the producer to stop.
    ``interrupt`` (if given) is called at least every ``poll_s`` seconds and may raise to stop.
    """
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=poll_s)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put((item, None)):
                    return
        except BaseException as exc:  # forwarded to the consumer
            put((_DONE, exc))
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        put((_DONE, None))

    worker = threading.Thread(target=produce, name="decode", daemon=True)
    worker.start()
    wait_s = 5.0  # for the producer to finish; less when the consumer gives up on it
    try:
        while True:
            if interrupt is not None:
                interrupt()
            try:
                item, exc = q.get(timeout=poll_s)
            except queue.Empty:
                watchdog.check()
                continue
            if item is _DONE:
                if exc is not None:
                    raise exc
                return
            yield item
    except BaseException:
        wait_s = 1.0  # stopping (interrupt, stall, error): do not wait long on the decoder
        raise
    finally:
        stop.set()
        if not watchdog.stalled():
            worker.join(timeout=wait_s)
