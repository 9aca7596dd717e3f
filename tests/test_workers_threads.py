"""thread_map: results in item order, one intra-op torch thread per worker, errors raised."""

from __future__ import annotations

import threading

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.workers import thread_map


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-100, 100), max_size=12), st.integers(1, 4))
def test_results_come_in_item_order(items, workers):
    assert thread_map(lambda x: x * x, items, workers) == [x * x for x in items]


def test_worker_threads_run_torch_on_one_thread_and_leave_the_caller_alone():
    before = torch.get_num_threads()
    seen = thread_map(lambda _: (torch.get_num_threads(), threading.get_ident()), range(4), 2)
    assert {n for n, _ in seen} == {1}
    assert threading.get_ident() not in {t for _, t in seen}
    assert torch.get_num_threads() == before


def test_the_first_error_is_raised():
    def fn(x: int) -> int:
        if x == 2:
            raise KeyError("two")
        return x

    with pytest.raises(KeyError, match="two"):
        thread_map(fn, range(5), 2)
