"""Frame decoding, timestamp matching and resizing of the LeRobot converter."""

from __future__ import annotations

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lerobot_fixtures import break_codec, decode_identity, encode_frames, identity_frame

from jepa_bench.convert.report import EpisodeError
from jepa_bench.convert.video import (
    MatchError,
    MatchStats,
    Resizer,
    VideoError,
    decode_episode,
    match_by_time,
    probe_video,
)

FPS_CHOICES = (10.0, 24.0, 30.0, 60.0)


@st.composite
def shared_video(draw):
    """Frame times of a shared file: ``before`` earlier frames, the episode, ``tail`` later ones."""
    fps = draw(st.sampled_from(FPS_CHOICES))
    before = draw(st.integers(0, 20))
    n = draw(st.integers(1, 40))
    tail = draw(st.integers(0, 5))
    jitter = draw(
        st.lists(st.floats(-0.45, 0.45), min_size=n, max_size=n).map(np.asarray)
    )  # row timestamps off the frame grid by under half a period
    return fps, before, n, tail, jitter


@given(shared_video())
@settings(max_examples=60, deadline=None)
def test_match_picks_the_frame_of_each_row(case):
    """Each row gets the frame nearest its time, skipping earlier episodes' frames, none extra."""
    fps, before, n, tail, jitter = case
    frames = [(i / fps, i) for i in range(before + n + tail)]
    start, end = before / fps, (before + n) / fps
    targets = start + (np.arange(n) + jitter) / fps
    stats = MatchStats()
    got = list(match_by_time(frames, targets, 0.5 / fps, start, end, stats))
    assert got == list(range(before, before + n))
    assert stats.extra_frames == 0 and stats.matched == n
    assert stats.max_error_s <= 0.45 / fps + 1e-9


@given(shared_video(), st.data())
@settings(max_examples=60, deadline=None)
def test_match_reports_a_missing_frame(case, data):
    """A frame missing from the video is a timestamp mismatch, never a silent shift."""
    fps, before, n, tail, _ = case
    if n < 2:
        return
    missing = data.draw(st.integers(before, before + n - 2))  # the last would read as truncation
    frames = [(i / fps, i) for i in range(before + n + tail) if i != missing]
    start = before / fps
    targets = start + np.arange(n) / fps
    with pytest.raises(MatchError) as err:
        list(match_by_time(frames, targets, 0.5 / fps, start, (before + n) / fps, MatchStats()))
    assert err.value.kind == "timestamp_mismatch"
    assert f"row {missing - before} " in str(err.value)


@given(shared_video())
@settings(max_examples=40, deadline=None)
def test_match_reports_truncation(case):
    """A video that stops before the last row is reported as truncated."""
    fps, before, n, _tail, _ = case
    frames = [(i / fps, i) for i in range(before + n - 1)]
    targets = before / fps + np.arange(n) / fps
    with pytest.raises(MatchError) as err:
        list(match_by_time(frames, targets, 0.5 / fps, before / fps, None, MatchStats()))
    assert err.value.kind == "video_truncated"


@given(st.sampled_from(FPS_CHOICES), st.integers(2, 30), st.floats(0.55, 1.45))
@settings(max_examples=40, deadline=None)
def test_match_refuses_frames_of_the_next_episode(fps, n, shift):
    """Rows shifted by more than half a period onto the next episode's frames are an error."""
    frames = [(i / fps, i) for i in range(2 * n)]
    targets = (np.arange(n) + shift) / fps
    with pytest.raises(MatchError) as err:
        list(match_by_time(frames, targets, 0.5 / fps, 0.0, n / fps, MatchStats()))
    assert err.value.kind == "timestamp_mismatch"


def test_match_counts_extra_frames():
    """Frames inside the episode that match no row, and one trailing frame, count as extra."""
    frames = [(i / 10, i) for i in range(12)]
    targets = np.array([0.0, 0.1, 0.3, 0.4])  # frame 2 has no row; frames 5.. follow the rows
    stats = MatchStats()
    assert list(match_by_time(frames, targets, 0.05, 0.0, None, stats)) == [0, 1, 3, 4]
    assert stats.extra_frames == 2


def _frame(img: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")


def test_resize_stretch_crop_pad_geometry():
    """Stretch fills the output; crop keeps the centre; pad adds black bars of the right size."""
    img = np.full((40, 80, 3), 200, np.uint8)
    img[:, :20] = 0  # a dark band on the left quarter
    stretch = Resizer((40, 80), (20, 20), "stretch")(_frame(img))
    assert stretch.shape == (20, 20, 3) and stretch[:, :4].mean() < 20
    crop = Resizer((40, 80), (20, 20), "crop")(_frame(img))  # keeps columns 20..60: no dark band
    assert crop.shape == (20, 20, 3) and crop.min() > 150
    pad = Resizer((40, 80), (20, 20), "pad")
    out = pad(_frame(img))
    assert pad.geometry((40, 80)) == ((10, 20), (-5, 0))
    assert out.shape == (20, 20, 3)
    assert out[:5].max() == 0 and out[15:].max() == 0 and out[5:15, 10:].min() > 150


def test_resize_keeps_native_size_exactly():
    """With no size the decoded RGB frame comes back untouched."""
    img = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    frame = _frame(img)
    out = Resizer((16, 24), None)(frame)
    assert np.array_equal(out, frame.to_ndarray(format="rgb24"))


def test_resizer_rejects_bad_options():
    """Unknown fit or interpolation names are refused with the allowed values."""
    with pytest.raises(ValueError, match="fit"):
        Resizer((4, 4), (2, 2), "squash")
    with pytest.raises(ValueError, match="interpolation"):
        Resizer((4, 4), (2, 2), "stretch", "nearest-ish")


@pytest.mark.parametrize("codec", ["libsvtav1", "libx264"])
def test_decode_episode_seeks_into_a_shared_file(tmp_path, codec):
    """The frames of the third episode of a shared mp4 come from that episode, at any offset."""
    lengths = [7, 11, 9]
    frames = [identity_frame(e, f) for e, n in enumerate(lengths) for f in range(n)]
    path = tmp_path / "shared.mp4"
    encode_frames(path, frames, codec=codec)
    start = sum(lengths[:2]) / 30
    out = list(
        decode_episode(
            path, np.arange(9) / 30, 30.0, Resizer((48, 64), (24, 32)), 2, "cam", start,
            start + 9 / 30,
        )
    )  # fmt: skip
    assert [decode_identity(x)[:2] for x in out] == [(2, f) for f in range(9)]


def test_decode_episode_names_episode_on_gap(tmp_path):
    """A frame missing in the middle of the video fails with the episode and camera named."""
    path = tmp_path / "gap.mp4"
    pts = [0, 1, 2, 3, 5, 6, 7]
    encode_frames(path, [identity_frame(0, p) for p in pts], pts=pts)
    with pytest.raises(EpisodeError) as err:
        list(decode_episode(path, np.arange(8) / 30, 30.0, Resizer((48, 64)), 4, "top"))
    assert err.value.issue.kind == "timestamp_mismatch"
    assert "episode 4" in str(err.value) and "top" in str(err.value) and "row 4" in str(err.value)


def test_probe_errors_name_the_problem(tmp_path):
    """Missing, cut and unknown-codec videos give distinct error kinds naming the file."""
    good = tmp_path / "good.mp4"
    encode_frames(good, [identity_frame(0, i) for i in range(5)])
    p = probe_video(good)
    assert (p.codec, p.height, p.width, p.n_frames) == ("h264", 48, 64, 5)
    with pytest.raises(VideoError) as err:
        probe_video(tmp_path / "nope.mp4")
    assert err.value.kind == "missing_video"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(VideoError) as err:
        probe_video(cut)
    assert err.value.kind == "video_unreadable" and "cut.mp4" in str(err.value)
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(good.read_bytes())
    break_codec(odd)
    with pytest.raises(VideoError) as err:
        probe_video(odd)
    assert err.value.kind == "unknown_codec" and "odd.mp4" in str(err.value)
