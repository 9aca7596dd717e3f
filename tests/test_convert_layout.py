"""The LeWM HDF5 layout reader and checks: our files, per-camera files, stable-worldmodel's."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.cli import main
from jepa_bench.convert.layout import check_lewm_h5, extra_camera_name, open_lewm_h5


def write_h5(path, ep_len, episode_key="episode_idx", with_done=True, chunks=None, **extra):
    """A small file in the layout; ``extra`` datasets override or add columns."""
    ep_len = np.asarray(ep_len)
    n = int(ep_len.sum())
    offsets = np.concatenate([[0], np.cumsum(ep_len)[:-1]]).astype(np.int64)
    cols = {
        "pixels": np.zeros((n, 8, 8, 3), np.uint8),
        "action": np.ones((n, 2), np.float32),
        episode_key: np.repeat(np.arange(len(ep_len)), ep_len),
        "step_idx": np.concatenate([np.arange(k) for k in ep_len]) if n else np.zeros(0, int),
    }
    if with_done:
        d = np.zeros(n, bool)
        d[offsets + ep_len - 1] = True
        cols["done"] = d
    cols.update(extra)
    with h5py.File(path, "w") as f:
        for k, v in cols.items():
            f.create_dataset(k, data=v, chunks=chunks and (1, *np.shape(v)[1:]))
        f["ep_len"], f["ep_offset"] = ep_len, offsets
    return path


@given(st.lists(st.integers(1, 9), min_size=1, max_size=12))
@settings(max_examples=40, deadline=None)
def test_reader_episode_table_properties(tmp_path_factory, lengths):
    """Slices tile the rows; derived done has one True per episode, at each episode's end."""
    path = write_h5(tmp_path_factory.mktemp("h") / "a.h5", lengths, with_done=False)
    with open_lewm_h5(path) as h5:
        assert check_lewm_h5(h5).ok
        rows = np.concatenate([np.arange(h5.n_rows)[h5.episode(i)] for i in range(h5.n_episodes)])
        assert np.array_equal(rows, np.arange(sum(lengths)))
        done = h5.done
        assert done.sum() == len(lengths)
        assert all(done[h5.episode(i)][-1] for i in range(h5.n_episodes))


def test_stable_worldmodel_file(tmp_path):
    """ep_idx is read as episode_idx, done is derived; the file passes with warnings."""
    lengths = np.array([3, 4], np.int32)  # stable-worldmodel stores int32 lengths, 1-row chunks
    path = write_h5(tmp_path / "swm.h5", lengths, "ep_idx", with_done=False, chunks=1)
    with open_lewm_h5(path) as h5:
        assert "episode_idx" in h5.columns and "ep_idx" not in h5.columns
        assert h5.episode_idx.tolist() == [0, 0, 0, 1, 1, 1, 1]
        assert h5.done.tolist() == [False, False, True, False, False, False, True]
        res = check_lewm_h5(h5)
    assert res.ok and any("ep_idx" in w for w in res.warnings)
    assert any("no 'done'" in w for w in res.warnings)


def test_seed_per_camera_file(tmp_path):
    """The per-camera layout (<split>__<camera>.h5 with proprio/state/index) passes inspect."""
    n = 5
    path = write_h5(
        tmp_path / "train__observation_images_laptop.h5", [2, 3],
        proprio=np.zeros((n, 6), np.float32), state=np.zeros((n, 6), np.float32),
        index=np.arange(n), task_index=np.zeros(n, np.int64),
        timestamp=np.array([0, 1, 0, 1, 2], np.float32) / 30,
    )  # fmt: skip
    with h5py.File(path, "a") as f:
        f.attrs["source_repo_id"] = "someone/koch_pick_place"
        f.attrs["source_camera_key"] = "observation.images.laptop"
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "5 rows, 2 episodes" in result.output and "check: OK" in result.output
    assert "source_camera_key=observation.images.laptop" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"action": np.full((5, 2), np.nan, np.float32)}, "NaN"),
        ({"step_idx": np.arange(4)}, "rows, expected 5"),
        ({"pixels": np.zeros((5, 3, 8, 8), np.uint8)}, "channel-first"),
        ({"episode_idx": np.array([0, 1, 1, 1, 1])}, "changes inside an episode"),
        ({"done": np.zeros(5, bool)}, "done is False at the last step"),
    ],
)
def test_broken_files_are_named(tmp_path, extra, message):
    """Each kind of damage is an error whose message says what is wrong; inspect exits 1."""
    path = write_h5(tmp_path / "bad.h5", [2, 3], **extra)
    with open_lewm_h5(path) as h5:
        res = check_lewm_h5(h5)
    assert not res.ok and any(message in e for e in res.errors), res.errors
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 1 and message in result.output


def test_bad_episode_table(tmp_path):
    """ep_offset that is not the running sum of ep_len is an error."""
    path = write_h5(tmp_path / "a.h5", [2, 3])
    with h5py.File(path, "a") as f:
        f["ep_offset"][1] = 1
    with open_lewm_h5(path) as h5:
        assert any("running sum" in e for e in check_lewm_h5(h5).errors)


def test_not_the_layout(tmp_path):
    """A non-HDF5 file and an HDF5 file without ep_len give clear errors."""
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        open_lewm_h5(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="missing \\['ep_len', 'ep_offset'\\]"):
        open_lewm_h5(other)
    result = CliRunner().invoke(main, ["inspect", str(other)])
    assert result.exit_code != 0 and "ep_len" in result.output


def test_inspect_json_and_strict(tmp_path):
    """--json gives the summary as JSON; --strict turns warnings into a failing exit code."""
    path = write_h5(tmp_path / "a.h5", [4, 2], "ep_idx", with_done=False)
    result = CliRunner().invoke(main, ["inspect", str(path), "--json", "--deep"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["rows"] == 6 and info["episodes"] == 2 and info["pixels"] == ["pixels"]
    assert info["columns"]["pixels"]["shape"] == [6, 8, 8, 3] and info["warnings"]
    assert CliRunner().invoke(main, ["inspect", str(path), "--strict"]).exit_code == 1


def test_extra_camera_names():
    """Camera keys become short, safe dataset names."""
    assert extra_camera_name("observation.images.phone") == "pixels_phone"
    assert extra_camera_name("observation.images.wrist-left") == "pixels_wrist_left"
