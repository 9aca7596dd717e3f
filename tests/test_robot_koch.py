"""koch_pick_place: the three HDF5 layouts, folders, LeRobot conversion, errors, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from jepa_bench.data.robot.koch import koch_pick_place
from jepa_bench.registry import TASKS
from tests.robot_files import row_arrays, write_seed_layout, write_swm_layout

LENS = [44, 57, 38, 61, 50, 47]


def test_seed_author_file_runs_from_the_cli(tmp_path: Path) -> None:
    """A file in the seed author's published layout trains and scores the three R2 probes."""
    path = write_seed_layout(tmp_path / "hub", LENS)
    assert path.name == "train__observation_images_laptop.h5"
    out = tmp_path / "runs"
    args = ["run", "--model", "convnext_mlp_smoke", "--task", "koch_pick_place",
            "--task-arg", f"data={path}", "--budget", "smoke", "-q", "--out", str(out),
            "--data-dir", str(tmp_path / "cache")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (run_dir,) = out.iterdir()
    rec = json.loads((run_dir / "result.json").read_text())
    for target in ("action", "proprio", "state"):
        assert f"probe/{target}/r2" in rec["metrics"] and f"probe/{target}/mse" in rec["metrics"]
        assert rec["metrics"][f"probe/{target}/r2"]["higher_is_better"] is True
    assert "latent_error/mean" in rec["metrics"]
    assert rec["task"]["version"].startswith("koch_pick_place-v1+")
    details = rec["task"]["details"]
    assert details["file_attrs"]["source_repo_id"] == "lerobot/koch_pick_place_1_lego"
    assert not set(details["train_episodes"]) & set(details["val_episodes"])
    assert "probe/action/r2" in res.output


def test_stable_worldmodel_layout_reads(tmp_path: Path) -> None:
    """A file with ep_idx and no done builds the same windows as our layout does."""
    swm = write_swm_layout(tmp_path / "swm.h5", LENS)
    ours = write_seed_layout(tmp_path / "ours", LENS)
    a = koch_pick_place(budget="smoke", data=str(swm), data_dir=str(tmp_path))
    b = koch_pick_place(budget="smoke", data=str(ours), data_dir=str(tmp_path))
    assert a.spec == b.spec  # same content -> same fingerprinted version
    idx = np.arange(0, len(a.train_set()), 7)
    np.testing.assert_array_equal(a.train_set().batch(idx).obs, b.train_set().batch(idx).obs)
    assert a.describe()["val_episodes"] == b.describe()["val_episodes"]


def test_version_follows_the_data(tmp_path: Path) -> None:
    """Different recordings get different task versions (never one leaderboard table)."""
    a = koch_pick_place(data=str(write_seed_layout(tmp_path / "a", LENS)), data_dir=str(tmp_path))
    b = koch_pick_place(
        data=str(write_seed_layout(tmp_path / "b", LENS[:-1])), data_dir=str(tmp_path)
    )
    assert a.spec.version != b.spec.version


def test_without_data_the_error_says_how_to_get_it(tmp_path: Path) -> None:
    """No data and nothing in data_dir: the message gives the download and convert commands."""
    with pytest.raises(FileNotFoundError) as err:
        TASKS.get("koch_pick_place")(budget="smoke", data_dir=str(tmp_path))
    msg = str(err.value)
    assert (
        "huggingface-cli download --repo-type dataset Tpauwels/lerobot-hdf5-koch_pick_place_1_lego"
        in msg
    )
    assert "jepa-bench convert lerobot/koch_pick_place_1_lego" in msg
    assert str(tmp_path / "koch_pick_place") in msg and "arm_sim" in msg
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        koch_pick_place(data=str(tmp_path / "missing.h5"), data_dir=str(tmp_path))
    args = ["run", "-m", "convnext_mlp_smoke", "-t", "koch_pick_place", "-b", "smoke", "-q",
            "--data-dir", str(tmp_path), "--out", str(tmp_path / "runs")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "jepa-bench convert lerobot/koch_pick_place_1_lego" in res.output


def test_folders_and_cameras(tmp_path: Path) -> None:
    """A folder of per-camera files needs a camera when several fit; data_dir is searched."""
    hub = tmp_path / "cache" / "koch_pick_place"
    laptop = write_seed_layout(hub, LENS, camera="observation.images.laptop")
    phone = write_seed_layout(hub, LENS, camera="observation.images.phone")
    write_seed_layout(hub, LENS[:3], camera="observation.images.phone", split="test")
    with pytest.raises(ValueError, match="camera=<name>"):
        koch_pick_place(data=str(hub))
    task = koch_pick_place(data=str(hub), camera="phone")
    assert task.reader.path == phone
    found = koch_pick_place(data_dir=str(tmp_path / "cache"), camera="observation.images.laptop")
    assert found.reader.path == laptop
    with pytest.raises(FileNotFoundError, match="camera 'wrist'"):
        koch_pick_place(data=str(hub), camera="wrist")


def test_extra_camera_dataset_is_chosen(tmp_path: Path) -> None:
    """camera= picks a pixels_<camera> dataset inside one file; an unknown camera is an error."""
    path = write_seed_layout(tmp_path, LENS)
    with h5py.File(path, "r+") as f:
        f.create_dataset("pixels_phone", data=255 - row_arrays(LENS)["pixels"])
    task = koch_pick_place(data=str(path), camera="phone", data_dir=str(tmp_path))
    assert task.reader.pixel_key == "pixels_phone"
    assert task.train_set().batch(np.array([0])).obs[0, 0, 0, 0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no camera 'wrist'"):
        koch_pick_place(data=str(path), camera="wrist", data_dir=str(tmp_path))


def test_lerobot_folder_is_converted_once(tmp_path: Path) -> None:
    """A LeRobot folder is converted into the cache on first use and reused afterwards."""
    from jepa_bench.convert.lerobot_writer import write_lerobot_dataset

    rng = np.random.default_rng(0)
    episodes = [
        {
            "observation.images.laptop": rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8),
            "action": rng.normal(size=(n, 6)),
            "observation.state": rng.normal(size=(n, 6)),
        }
        for n in (30, 26, 28)
    ]
    src = write_lerobot_dataset(
        tmp_path / "lerobot", episodes, encoder_options={"preset": "8"}, episodes_per_file=2
    )
    cache = tmp_path / "cache"
    task = koch_pick_place(data=str(src), image_size=16, data_dir=str(cache))
    path = task.reader.path
    assert path.is_relative_to(cache / "koch_pick_place") and task.spec.obs_shape == (3, 16, 16)
    assert not list(path.parent.glob("*.part-*"))  # nothing half-written left behind
    stamp = path.stat().st_mtime_ns
    again = koch_pick_place(data=str(src), image_size=16, data_dir=str(cache))
    assert again.reader.path == path and path.stat().st_mtime_ns == stamp
    np.testing.assert_allclose(task.reader.columns["action"], np.concatenate(
        [e["action"] for e in episodes]).astype(np.float32))  # fmt: skip
