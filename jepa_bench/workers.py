"""Process and thread pools: results in job order, whatever the number of workers.

Generators split their work into jobs that are functions of their arguments alone (each draws
from its own seed), so the output does not depend on how many processes ran them. Planning runs
its independent cases in threads (``thread_map``), each on one intra-op torch thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


def usable_cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_workers(workers: int | None, jobs: int) -> int:
    """``workers`` (default: one per usable core), at least 1 and at most one per job."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n = usable_cores() if workers is None else workers
    return max(1, min(n, jobs))


def ordered_map(fn: Callable[..., R], jobs: Sequence[tuple[Any, ...]], workers: int) -> Iterator[R]:
    """``fn(*job)`` for every job, yielded in job order; in this process when ``workers`` <= 1.

    With several workers, ``fn`` and its arguments must be picklable (module-level functions).
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(*job)
        return
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(fn, *zip(*jobs))
    finally:  # on an error or an early stop, jobs not yet started never start
        pool.shutdown(wait=True, cancel_futures=True)


def thread_map(fn: Callable[[Any], R], items: Sequence[Any], workers: int) -> list[R]:
    """``[fn(item) for item in items]``, run by ``workers`` threads (here when <= 1).

    Each thread runs torch on one intra-op thread (torch's thread count is per thread), so the
    results are those of the sequential loop. The first error is raised once every started job
    has stopped; jobs not yet started never start.
    """
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]

    def job(item: Any) -> R:
        import torch  # only planning, which has torch, runs jobs here

        torch.set_num_threads(1)
        return fn(item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job, item) for item in items]
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()
