"""LeRobot v3.0 datasets encoded by several processes are the sequential writer's, byte for byte."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from jepa_bench.convert.layout import check_lewm_h5, open_lewm_h5
from jepa_bench.convert.lerobot_writer import (
    write_lerobot_dataset,
    write_lerobot_dataset_parallel,
)
from jepa_bench.data.robot.arm_sim import dataset as ds

CAMERA = "observation.images.top"
OPTIONS = {"preset": "8", "svtav1-params": "lp=1"}
LENGTHS = (5, 7, 4, 6, 8)


def make_episode(i: int, seed: int) -> dict:
    """Episode ``i``: random frames and columns drawn from (seed, i) alone."""
    rng = np.random.default_rng([seed, i])
    n = LENGTHS[i]
    return {
        CAMERA: rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        "action": rng.normal(size=(n, 2)),
        "observation.state": rng.normal(size=(n, 3)),
        "task": f"task {i % 2}",
    }


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def write_parallel(root: Path, workers: int) -> Path:
    return write_lerobot_dataset_parallel(
        root, partial(make_episode, seed=3), len(LENGTHS), [CAMERA], episodes_per_file=2,
        workers=workers, fps=10, encoder_options=OPTIONS,
    )  # fmt: skip


def test_parallel_parts_equal_the_sequential_writer(tmp_path: Path) -> None:
    """1 or 3 worker processes write exactly the files of the one-process writer (3 mp4s)."""
    seq = write_lerobot_dataset(
        tmp_path / "seq", [make_episode(i, 3) for i in range(len(LENGTHS))], fps=10,
        camera_keys=[CAMERA], episodes_per_file=2, encoder_options=OPTIONS,
    )  # fmt: skip
    expected = tree(seq)
    assert sum(name.endswith(".mp4") for name in expected) == 3
    for workers in (1, 3):
        assert tree(write_parallel(tmp_path / f"w{workers}", workers)) == expected


def test_a_failing_part_leaves_no_dataset(tmp_path: Path) -> None:
    """An episode that cannot be encoded stops the write: no info.json, the error propagates."""

    def bad(i: int) -> dict:
        ep = make_episode(i, 3)
        if i == 3:
            ep[CAMERA] = ep[CAMERA][:-1]  # one frame short of its rows
        return ep

    with pytest.raises(ValueError, match="frames"):
        write_lerobot_dataset_parallel(
            tmp_path / "bad", bad, len(LENGTHS), [CAMERA], episodes_per_file=2, workers=1,
            fps=10, encoder_options=OPTIONS,
        )  # fmt: skip
    assert not (tmp_path / "bad" / "meta" / "info.json").exists()


def test_arm_sim_data_does_not_depend_on_the_worker_count(tmp_path: Path, monkeypatch) -> None:
    """arm_sim's LeRobot dataset (3 files) and its HDF5 are the same with 1 and 2 workers."""
    monkeypatch.setattr(ds, "EPISODES_PER_FILE", 2)
    outputs = []
    for workers in (1, 2):
        root = ds.write_sim_lerobot(tmp_path / f"w{workers}", 5, 7, 32, 0.2, workers=workers)
        h5 = ds.convert_sim(root, tmp_path / f"w{workers}.h5")
        with open_lewm_h5(h5) as f:
            assert check_lewm_h5(f).ok and f.n_episodes == 5
            pixels = f.columns["pixels"][:]
        outputs.append((tree(root), pixels))
    assert outputs[0][0] == outputs[1][0]
    assert np.array_equal(outputs[0][1], outputs[1][1])
