"""Episode split and window placement: validation frames never come from training episodes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.data.robot.split import split_episodes
from jepa_bench.data.robot.windows import WindowShape, episode_rows, window_starts


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 400),
    frac=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**31 - 1),
)
def test_split_partitions_episodes(n: int, frac: float, seed: int) -> None:
    """Train and validation are disjoint, sorted, non-empty and together hold every episode."""
    train, val = split_episodes(n, frac, seed)
    assert len(train) >= 1 and len(val) >= 1
    assert not set(train) & set(val)
    assert sorted([*train, *val]) == list(range(n))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert len(val) == min(n - 1, max(1, round((1 - frac) * n)))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 200), seed=st.integers(0, 10_000))
def test_split_is_deterministic_and_seeded(n: int, seed: int) -> None:
    """The same (n, split, seed) gives the same split; the default is train 0.9, seed 3072."""
    a, b = split_episodes(n, 0.9, seed), split_episodes(n, 0.9, seed)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    default = split_episodes(n)
    assert all(np.array_equal(x, y) for x, y in zip(default, split_episodes(n, 0.9, 3072)))


def test_split_rejects_bad_input() -> None:
    """Fewer than two episodes or a fraction outside (0, 1) are errors naming the problem."""
    with pytest.raises(ValueError, match="at least 2 episodes"):
        split_episodes(1)
    with pytest.raises(ValueError, match="train_split"):
        split_episodes(10, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    lens=st.lists(st.integers(1, 60), min_size=2, max_size=12),
    frameskip=st.integers(1, 5),
    history=st.integers(1, 3),
    stride=st.integers(1, 7),
    seed=st.integers(0, 1000),
)
def test_windows_stay_inside_their_episode(
    lens: list[int], frameskip: int, history: int, stride: int, seed: int
) -> None:
    """Every window's rows lie in one episode of its side; no validation row is a training row."""
    ep_len = np.asarray(lens, dtype=np.int64)
    ep_offset = np.concatenate([[0], np.cumsum(ep_len)[:-1]])
    episode_of_row = np.repeat(np.arange(len(lens)), lens)
    shape = WindowShape(frameskip, history, 1)
    train, val = split_episodes(len(lens), 0.7, seed)
    seen = {}
    for side, eps in (("train", train), ("val", val)):
        starts = window_starts(ep_offset, ep_len, eps, shape.span, stride)
        rows = starts[:, None] + np.arange(shape.span)  # every row a window touches
        if len(starts):
            eps_of_window = episode_of_row[rows]
            assert (eps_of_window == eps_of_window[:, :1]).all()
            assert np.isin(eps_of_window[:, 0], eps).all()
        seen[side] = set(rows.ravel().tolist())
        expected = sum(max(0, (lens[e] - shape.span) // stride + 1) for e in eps)
        assert len(starts) == expected
    assert not seen["train"] & seen["val"]
    all_val_rows = set(episode_rows(ep_offset, ep_len, val).tolist())
    assert seen["val"] <= all_val_rows
