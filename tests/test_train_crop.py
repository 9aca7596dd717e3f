"""Random training sub-windows: frames, actions and targets stay aligned; offsets are seeded."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.data.base import Batch
from jepa_bench.train.crop import crop_batch, crop_offsets


def _numbered_batch(b: int, t: int) -> Batch:
    """Every frame, action and target carries its (window, frame) index."""
    frame_id = (np.arange(b)[:, None] * 100 + np.arange(t)[None]).astype(np.float32)  # (B, T)
    obs = np.broadcast_to(frame_id[:, :, None, None, None], (b, t, 1, 2, 2)).copy()
    actions = np.stack([frame_id[:, :-1], frame_id[:, :-1] + 0.5], axis=-1)  # action after frame
    return Batch(obs=obs, actions=actions, targets={"location": frame_id[:, :, None].copy()})


@settings(max_examples=50, deadline=None)
@given(
    b=st.integers(1, 6),
    t=st.integers(2, 12),
    window=st.integers(2, 14),
    seed=st.integers(0, 2**16),
    step=st.integers(0, 1000),
)
def test_crop_keeps_frames_actions_targets_aligned(b, t, window, seed, step):
    batch = _numbered_batch(b, t)
    starts = crop_offsets(b, t, window, seed, step)
    out = crop_batch(batch, window, starts)
    w = min(window, t)
    assert out.obs.shape == (b, w, 1, 2, 2) and out.actions.shape == (b, w - 1, 2)
    for i in range(b):
        first = i * 100 + starts[i]
        expect = first + np.arange(w)
        np.testing.assert_array_equal(out.obs[i, :, 0, 0, 0], expect)
        np.testing.assert_array_equal(out.targets["location"][i, :, 0], expect)
        np.testing.assert_array_equal(out.actions[i, :, 0], expect[:-1])  # action j follows frame j


def test_offsets_are_seeded_and_cover_every_start():
    a = crop_offsets(4000, 17, 4, seed=3, step=7)
    np.testing.assert_array_equal(a, crop_offsets(4000, 17, 4, seed=3, step=7))
    assert not np.array_equal(a, crop_offsets(4000, 17, 4, seed=3, step=8))
    assert set(a.tolist()) == set(range(14))


def test_bad_window_or_offsets_fail_clearly():
    with pytest.raises(ValueError, match="at least 2 frames"):
        crop_offsets(3, 10, 1, 0, 0)
    with pytest.raises(ValueError, match="offsets must be"):
        crop_batch(_numbered_batch(2, 10), 4, np.array([0, 7]))
