"""Dirty LeRobot inputs: each gets a clear error naming what is wrong, or the policy's action."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from lerobot_fixtures import (
    assert_frames_match_sources,
    break_codec,
    build_dataset,
    edit_episodes_jsonl,
    edit_json,
    edit_parquet,
    encode_frames,
    identity_frame,
    v2_data,
    v2_video,
    v3_episodes_meta,
)

from jepa_bench.convert import ConvertOptions, convert_lerobot, open_lewm_h5, validate
from jepa_bench.convert.report import DirtyDataError, SourceError

LENGTHS = (10, 12, 9, 11)


@pytest.fixture(scope="module")
def clean_v2(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean") / "v2"
    return build_dataset(root, "v2.1", "libx264", LENGTHS, done=True)


@pytest.fixture(scope="module")
def clean_v3(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean") / "v3"
    return build_dataset(root, "v3.0", "libsvtav1", LENGTHS, done=True)


@pytest.fixture
def v2(clean_v2, tmp_path):
    return shutil.copytree(clean_v2, tmp_path / "v2")


@pytest.fixture
def v3(clean_v3, tmp_path):
    return shutil.copytree(clean_v3, tmp_path / "v3")


def run(root, out, policy="fail", **kw):
    opts = ConvertOptions(size=(24, 24), progress=False, dirty_episode_policy=policy, **kw)
    return convert_lerobot(root, out, opts, log=lambda line: None)


def assert_nothing_written(out):
    assert not out.exists(), "a failed conversion left an output file"
    assert not out.with_name(out.name + ".tmp").exists(), "a temporary file was left behind"
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["status"] == "failed" and report["error"]


def fail_then_drop(root, tmp_path, kind, episode, **kw):
    """Under "fail" the issue is named and nothing written; under "drop" the episode goes."""
    out = tmp_path / "fail.h5"
    with pytest.raises(DirtyDataError) as err:
        run(root, out, **kw)
    assert any(i.kind == kind and i.episode == episode for i in err.value.issues), err.value
    assert f"episode {episode}" in str(err.value) and kind in str(err.value)
    assert_nothing_written(out)
    out = tmp_path / "drop.h5"
    report = run(root, out, "drop", **kw)
    assert episode in report.episodes_dropped and episode not in report.episodes_written
    with open_lewm_h5(out) as h5:
        assert episode not in set(h5.episode_idx.tolist())
        assert_frames_match_sources(h5)
    issues = [i for i in report.issues if i.kind == kind]
    assert issues and all(i.action == "dropped" for i in issues)
    return report


def test_truncated_video_v2(v2, tmp_path):
    """A video with fewer frames than rows is caught from its header, before decoding."""
    encode_frames(v2_video(v2, 2), [identity_frame(2, f) for f in range(6)])
    report = fail_then_drop(v2, tmp_path, "video_truncated", 2)
    warn = run(v2, tmp_path / "warn.h5", "warn")  # unrecoverable: dropped even under warn
    assert warn.episodes_dropped == [2] and report.frames_written == warn.frames_written


def test_truncated_video_found_while_decoding(v2, tmp_path, monkeypatch):
    """A video whose header hides the truncation is caught by timestamp matching, rolled back."""
    encode_frames(v2_video(v2, 1), [identity_frame(1, f) for f in range(7)])
    real = validate.probe_video

    def header_without_frame_count(path):
        p = real(path)
        return type(p)(p.codec, p.height, p.width, p.pix_fmt, 0, p.duration_s, p.fps)

    monkeypatch.setattr(validate, "probe_video", header_without_frame_count)
    report = fail_then_drop(v2, tmp_path, "video_truncated", 1)
    assert report.frames_written == sum(LENGTHS) - LENGTHS[1]


def test_cut_mp4_file(v3, tmp_path):
    """A shared mp4 cut in half cannot be opened: every episode in it is named."""
    path = next((v3 / "videos").rglob("*.mp4"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DirtyDataError) as err:
        run(v3, tmp_path / "o.h5")
    kinds = {(i.kind, i.episode) for i in err.value.issues}
    assert kinds == {("video_unreadable", e) for e in range(len(LENGTHS))}
    assert "file-000.mp4" in str(err.value)


def test_missing_done(v2, tmp_path):
    """A last row without next.done is dirty; warn keeps the episode and ends it there."""
    edit_parquet(v2_data(v2, 3), lambda df: df.assign(**{"next.done": False}))
    fail_then_drop(v2, tmp_path, "missing_done", 3)
    report = run(v2, tmp_path / "warn.h5", "warn")
    assert report.episodes_written == [0, 1, 2, 3]
    with open_lewm_h5(tmp_path / "warn.h5") as h5:
        assert h5.done[h5.episode(3)].tolist() == [False] * (LENGTHS[3] - 1) + [True]


def test_required_done_column_absent(tmp_path):
    """Without a next.done column, --require-done makes every episode dirty."""
    root = build_dataset(tmp_path / "ds", "v2.1", "libx264", (5, 6), done=False)
    with pytest.raises(DirtyDataError, match="missing_done"):
        run(root, tmp_path / "a.h5", require_done=True)
    run(root, tmp_path / "b.h5")  # not required: done is derived from the episode ends
    with open_lewm_h5(tmp_path / "b.h5") as h5:
        assert h5.done.tolist() == [False] * 4 + [True] + [False] * 5 + [True]


def test_frame_index_gap(v3, tmp_path):
    """A gap in frame_index is reported with the episode; drop removes it."""
    data = next((v3 / "data").rglob("*.parquet"))

    def gap(df: pd.DataFrame) -> pd.DataFrame:
        sel = (df["episode_index"] == 2) & (df["frame_index"] >= 4)
        df.loc[sel, "frame_index"] += 1
        return df

    edit_parquet(data, gap)
    fail_then_drop(v3, tmp_path, "frame_index_gap", 2)


def test_declared_length_mismatch_v2(v2, tmp_path):
    """episodes.jsonl declaring a length the parquet does not have is a length mismatch."""

    def longer(rows):
        rows[1]["length"] += 3
        return rows

    edit_episodes_jsonl(v2, longer)
    fail_then_drop(v2, tmp_path, "length_mismatch", 1)


def test_declared_index_range_mismatch_v3(v3, tmp_path):
    """v3.0 dataset_to_index disagreeing with the episode's length is named."""
    edit_parquet(v3_episodes_meta(v3), lambda df: _bump(df, "length", 0, 2))
    with pytest.raises(DirtyDataError, match="length_mismatch") as err:
        run(v3, tmp_path / "o.h5")
    assert any(i.episode == 0 for i in err.value.issues)


def _bump(df, col, row, by):
    df.loc[row, col] = df.loc[row, col] + by
    return df


def test_total_frames_mismatch_is_dataset_wide(v3, tmp_path):
    """info.json totals that disagree fail under "fail" and are kept with a note otherwise."""
    edit_json(v3 / "meta" / "info.json", lambda d: d.update(total_frames=d["total_frames"] + 1))
    with pytest.raises(DirtyDataError, match="count_mismatch"):
        run(v3, tmp_path / "a.h5")
    report = run(v3, tmp_path / "b.h5", "drop")
    assert report.episodes_dropped == [] and report.issues[0].action == "kept"


def test_corrupt_parquet(v2, tmp_path):
    """An unreadable parquet file is named; its episode cannot be kept, even under warn."""
    v2_data(v2, 1).write_bytes(b"PAR1 this is not parquet")
    fail_then_drop(v2, tmp_path, "corrupt_parquet", 1)
    report = run(v2, tmp_path / "warn.h5", "warn")
    assert report.episodes_dropped == [1]


def test_unknown_codec(v2, tmp_path):
    """A video whose codec has no decoder is named before any frame is decoded."""
    break_codec(v2_video(v2, 0))
    report = fail_then_drop(v2, tmp_path, "unknown_codec", 0)
    assert "no decoder" in next(i.message for i in report.issues if i.kind == "unknown_codec")


@pytest.mark.parametrize("names", [["channels", "height", "width"], None])
def test_channel_first_declared_shape(v3, tmp_path, names):
    """A [3, H, W] declared shape is read correctly (by names or by position), with a note."""

    def channel_first(info):
        info["features"]["observation.images.laptop"]["shape"] = [3, 48, 64]
        info["features"]["observation.images.laptop"]["names"] = names

    edit_json(v3 / "meta" / "info.json", channel_first)
    report = run(v3, tmp_path / "o.h5")
    assert [i.kind for i in report.issues] == ["channel_first_shape"]
    assert report.issues[0].action == "noted"
    with open_lewm_h5(tmp_path / "o.h5") as h5:
        assert h5.pixels.shape[1:] == (24, 24, 3)
        assert_frames_match_sources(h5)


def test_declared_shape_disagrees_with_video(v3, tmp_path):
    """A declared size that is not the video's is dirty metadata, named with both sizes."""
    edit_json(
        v3 / "meta" / "info.json",
        lambda d: d["features"]["observation.images.laptop"].update(shape=[480, 640, 3]),
    )
    with pytest.raises(DirtyDataError, match=r"declared 480x640, the video is 48x64"):
        run(v3, tmp_path / "o.h5")


def test_nan_actions(v3, tmp_path):
    """NaN in the action column is named with its episode."""
    data = next((v3 / "data").rglob("*.parquet"))

    def nan(df):
        i = df.index[df["episode_index"] == 3][2]
        df.at[i, "action"] = np.full(6, np.nan, dtype=np.float32)
        return df

    edit_parquet(data, nan)
    fail_then_drop(v3, tmp_path, "nan_values", 3)


def test_overlapping_video_ranges_v3(v3, tmp_path):
    """v3.0 episodes whose video ranges overlap would read each other's frames: refused."""

    def overlap(df):
        key = "videos/observation.images.laptop/"
        df.loc[2, key + "from_timestamp"] -= 3 / 30
        df.loc[2, key + "to_timestamp"] -= 3 / 30
        return df

    edit_parquet(v3_episodes_meta(v3), overlap)
    fail_then_drop(v3, tmp_path, "video_range", 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: (r / "meta" / "info.json").write_text("{not json"), "invalid JSON"),
        (lambda r: edit_json(r / "meta" / "info.json", lambda d: d.update(codebase_version="v1.6")),
         "not supported"),
        (lambda r: (r / "meta" / "info.json").unlink(), "missing"),
        (lambda r: shutil.rmtree(r / "meta" / "episodes"), "no episode parquet"),
    ],
)  # fmt: skip
def test_unusable_metadata(v3, tmp_path, edit, message):
    """Broken metadata stops the conversion with a SourceError naming the file."""
    edit(v3)
    with pytest.raises(SourceError, match=message):
        run(v3, tmp_path / "o.h5")
    assert_nothing_written(tmp_path / "o.h5")


def test_unknown_feature_and_camera(v3, tmp_path):
    """Asking for a feature or camera the dataset lacks lists what it has."""
    with pytest.raises(SourceError, match="numeric features"):
        run(v3, tmp_path / "a.h5", action_key="action.joint")
    with pytest.raises(SourceError, match="video features"):
        run(v3, tmp_path / "b.h5", camera="observation.images.wrist")
