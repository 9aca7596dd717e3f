"""The conversion watchdog: fail fast on a stalled producer, without signals, from any thread."""

from __future__ import annotations

import threading
import time

import pytest

from jepa_bench.convert.watchdog import StallError, Watchdog, watched


def stalled(n_before: int, release: threading.Event):
    """Yield ``n_before`` items, then block until ``release`` is set (like a hung decoder)."""
    yield from range(n_before)
    release.wait(30)


def test_stalled_iterator_fails_fast():
    """A producer that stops yielding raises StallError soon after the timeout, naming the stage."""
    release = threading.Event()
    got = []
    t0 = time.monotonic()
    with Watchdog(timeout_s=0.3) as wd, pytest.raises(StallError, match="decoding episode 7"):
        wd.stage = "decoding episode 7"
        for item in watched(stalled(3, release), wd):
            got.append(item)
            wd.beat()
    elapsed = time.monotonic() - t0
    release.set()
    assert got == [0, 1, 2]
    assert elapsed >= 0.3  # not before the timeout; later than 30 s, pytest.raises would fail


def test_steady_progress_is_not_a_stall():
    """Items arriving more often than the timeout never trip it, however long the run."""

    def slow():
        for i in range(16):
            time.sleep(0.05)
            yield i

    with Watchdog(timeout_s=0.5) as wd:  # the run lasts longer than the timeout
        out = []
        for item in watched(slow(), wd):
            out.append(item)
            wd.beat()
    assert out == list(range(16))


def test_producer_exception_is_forwarded():
    """An error inside the producer reaches the consumer unchanged."""

    def broken():
        yield 1
        raise KeyError("bad frame")

    with Watchdog(timeout_s=5) as wd, pytest.raises(KeyError, match="bad frame"):
        list(watched(broken(), wd))


def test_works_outside_the_main_thread():
    """The watchdog raises in a worker thread too (no signal handlers involved)."""
    release = threading.Event()
    caught: list[BaseException] = []

    def worker():
        try:
            with Watchdog(timeout_s=0.2) as wd:
                list(watched(stalled(0, release), wd))
        except BaseException as exc:
            caught.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(5)
    release.set()
    assert not t.is_alive() and len(caught) == 1 and isinstance(caught[0], StallError)


def test_closing_early_stops_the_producer():
    """Abandoning the iteration ends the producer thread and closes its generator."""
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    with Watchdog(timeout_s=5) as wd:
        gen = watched(endless(), wd, maxsize=2)
        assert [next(gen) for _ in range(5)] == [0, 1, 2, 3, 4]
        gen.close()
    assert closed.wait(2)


def test_heartbeat_and_disabled_timeout():
    """Heartbeat lines report progress; timeout 0 never raises."""
    lines: list[str] = []
    with Watchdog(timeout_s=0, heartbeat_s=0.05, heartbeat=lines.append) as wd:
        wd.beat(5)
        time.sleep(0.3)
        wd.check()
    assert lines and "5 frames done" in lines[0]


def test_fake_clock_check():
    """check() compares the time since the last beat with the timeout."""
    now = [0.0]
    wd = Watchdog(timeout_s=10, clock=lambda: now[0])
    now[0] = 9.0
    wd.check()
    wd.beat()
    now[0] = 18.5
    wd.check()
    now[0] = 19.5
    with pytest.raises(StallError, match="no progress for 10.5 s"):
        wd.check()


def test_interrupt_hook_is_polled_while_waiting():
    """``interrupt`` is called while the producer is silent; what it raises ends the iteration."""
    release = threading.Event()
    calls: list[int] = []

    def interrupt():
        calls.append(1)
        if len(calls) > 5:
            release.set()  # let the producer go, as a real decoder eventually returns
            raise KeyboardInterrupt("stop")

    with Watchdog(timeout_s=30) as wd, pytest.raises(KeyboardInterrupt, match="stop"):
        for _ in watched(stalled(2, release), wd, interrupt=interrupt):
            pass
    assert len(calls) == 6  # polled while silent: the producer alone would wait 30 s
