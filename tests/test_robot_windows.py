"""HDF5 windows: frameskip, action concatenation, z-scoring, pixel reads, DataLoader workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.data.robot.loader import H5Frames, window_loader
from jepa_bench.data.robot.task import RobotTask
from jepa_bench.data.robot.windows import Normaliser, RobotWindows, WindowShape, window_starts
from tests.robot_files import row_arrays, write_seed_layout

LENS = [47, 60, 33, 52, 41]


@pytest.fixture(scope="module")
def h5_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seed_layout(tmp_path_factory.mktemp("robot"), LENS)


def _identity_windows(path: Path, shape: WindowShape, cache: bool, targets=("action",)):
    reader = H5Frames(path, cache=cache)
    starts = window_starts(reader.ep_offset, reader.ep_len, np.arange(len(LENS)), shape.span)
    ident = Normaliser({k: (np.zeros(v.shape[1], np.float32), np.ones(v.shape[1], np.float32))
                        for k, v in reader.columns.items()})  # fmt: skip
    return RobotWindows("all", reader, starts, shape, ident, targets)


@settings(max_examples=25, deadline=None)
@given(frameskip=st.integers(1, 5), history=st.integers(1, 4), seed=st.integers(0, 999))
def test_frames_and_action_blocks_follow_the_frameskip(
    h5_path: Path, frameskip: int, history: int, seed: int
) -> None:
    """Frame t of a window is row s + t k; its action block is a[s + t k], ..., a[s + t k + k-1]."""
    shape = WindowShape(frameskip, history, 1)
    ws = _identity_windows(h5_path, shape, cache=False, targets=("action", "proprio", "state"))
    idx = np.random.default_rng(seed).choice(len(ws), size=min(6, len(ws)), replace=False)
    b = ws.batch(idx)
    s = ws.starts[idx]
    t, k = shape.seq_len, frameskip
    rows = s[:, None] + np.arange(t) * k  # (B, T)
    np.testing.assert_allclose(b.obs[:, :, 0, 0, 0] * 255, rows % 251, atol=1e-3)
    blocks = b.targets["action"].reshape(len(idx), t, k, 6)
    want = s[:, None, None] + np.arange(t)[None, :, None] * k + np.arange(k)[None, None, :]
    np.testing.assert_allclose(blocks[..., 0], want, atol=1e-3)  # action[r, 0] = r
    np.testing.assert_allclose(blocks[..., 3] - blocks[..., 0], 0.3, atol=1e-4)  # in-row order
    np.testing.assert_array_equal(b.actions, b.targets["action"][:, :-1])
    np.testing.assert_allclose(b.targets["proprio"][..., 0], -rows, atol=1e-3)
    np.testing.assert_allclose(b.targets["state"][..., 0], 2 * rows, atol=1e-3)
    assert b.obs.shape == (len(idx), t, 3, 16, 16) and b.obs.dtype == np.float32
    assert b.actions.shape == (len(idx), t - 1, 6 * k)


def test_uncached_reads_equal_cached_reads(h5_path: Path) -> None:
    """Merged contiguous HDF5 reads give exactly the in-memory cache's frames, any order."""
    shape = WindowShape(5, 3, 1)
    a = _identity_windows(h5_path, shape, cache=False)
    b = _identity_windows(h5_path, shape, cache=True)
    assert not a.reader.cached and b.reader.cached
    idx = np.random.default_rng(0).permutation(len(a))[:40]
    idx = np.concatenate([idx, idx[:5], [0, 1, 2]])  # repeats and touching windows
    np.testing.assert_array_equal(a.batch(idx).obs, b.batch(idx).obs)


@settings(max_examples=40, deadline=None)
@given(
    chunk=st.sampled_from([1, 3, 8, 64, None]),
    rows=st.lists(st.integers(0, 252), min_size=1, max_size=40),
)
def test_chunk_aware_reads_return_the_rows(tmp_path_factory, chunk, rows: list[int]) -> None:
    """Reads touch only chunks holding a needed row and return exactly the requested frames."""
    path = tmp_path_factory.mktemp("chunks") / "f.h5"
    cols = row_arrays([253])
    with h5py.File(path, "w") as f:
        for k, v in cols.items():
            pixels = k == "pixels" and chunk is not None  # None: contiguous, uncompressed
            kw = {"chunks": (chunk, *v.shape[1:]), "compression": "lzf"} if pixels else {}
            f.create_dataset(k, data=v, **kw)
    reader = H5Frames(path, cache=False)
    want = np.array(rows).reshape(1, -1)
    np.testing.assert_array_equal(reader.frames(want), cols["pixels"][want])
    uniq = np.unique(rows)
    ranges = reader.read_ranges(uniq)
    c = reader.chunk_rows or 64
    needed = set((uniq // c).tolist())
    covered = [r for lo, hi in ranges for r in range(lo, hi)]
    assert set(uniq.tolist()) <= set(covered) and len(covered) == len(set(covered))
    assert {r // c for r in covered} == needed  # no chunk read without a needed row


def test_resized_frames_are_the_same_cached_or_not(h5_path: Path) -> None:
    """With an output size, the in-memory cache holds the frames a direct read resizes."""
    rows = np.array([[0, 5, 10, 15], [200, 205, 210, 215]])
    a = H5Frames(h5_path, cache=False, size=8).frames(rows)
    b = H5Frames(h5_path, cache=True, size=8).frames(rows)
    assert a.shape == (2, 4, 8, 8, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[..., 0].mean(axis=(2, 3)), rows % 251, atol=1)


def test_zscore_uses_training_episode_statistics(h5_path: Path) -> None:
    """Targets and actions are z-scored with the mean and std of the training episodes' rows."""
    task = RobotTask("t", "t-v1", h5_path, frameskip=2, history_size=2, cache=False)
    cols = row_arrays(LENS)
    train_rows = np.concatenate(
        [
            np.arange(o, o + n)
            for o, n in zip(cols["ep_offset"][task.train_eps], cols["ep_len"][task.train_eps])
        ]  # fmt: skip
    )
    mean = cols["proprio"][train_rows].astype(np.float64).mean(0)
    std = cols["proprio"][train_rows].astype(np.float64).std(0)
    np.testing.assert_allclose(task.norm.stats["proprio"][0], mean, rtol=1e-5)
    np.testing.assert_allclose(task.norm.stats["proprio"][1], std, rtol=1e-5)
    assert task.norm.stats["state"][1][1] == 1.0  # a constant column keeps std 1
    suite = task.probe_suites()[0]
    b = suite.train.batch(np.arange(len(suite.train)))
    rows = suite.train.starts[:, None] + np.arange(3) * 2
    np.testing.assert_allclose(
        b.targets["proprio"], (cols["proprio"][rows] - mean) / std, atol=1e-4
    )


def test_probe_suite_and_spec(h5_path: Path) -> None:
    """One linear r2 suite on action/proprio/state; train and val windows from disjoint episodes."""
    task = RobotTask("t", "t-v1", h5_path)
    spec = task.spec
    assert spec.obs_shape == (3, 16, 16) and spec.action_dim == 30 and spec.seq_len == 4
    assert spec.channel_groups == {"rgb": (0, 1, 2)} and spec.static_groups == ()
    assert spec.proprio_dim == 6
    (suite,) = task.probe_suites()
    assert (suite.mode, suite.head, suite.metric) == ("encode", "linear", "r2")
    assert suite.targets == ("action", "proprio", "state") and list(suite.evals) == ["val"]
    ep_of_row = np.repeat(np.arange(len(LENS)), LENS)
    train_eps = set(ep_of_row[suite.train.starts])
    val_eps = set(ep_of_row[suite.evals["val"].starts])
    np.testing.assert_array_equal(suite.train.episode, ep_of_row[suite.train.starts])
    assert val_eps and train_eps and not train_eps & val_eps
    assert task.train_set().batch(np.arange(3)).targets == {}


def test_image_size_resizes_frames(h5_path: Path) -> None:
    """image_size different from the file's resizes frames (still float32 in [0, 1])."""
    task = RobotTask("t", "t-v1", h5_path, image_size=8)
    b = task.train_set().batch(np.arange(2))
    assert task.spec.obs_shape == (3, 8, 8) and b.obs.shape == (2, 4, 3, 8, 8)
    assert 0.0 <= b.obs.min() and b.obs.max() <= 1.0


def test_bad_files_are_reported(tmp_path: Path) -> None:
    """NaN actions, non-RGB pixels and too-short episodes raise errors naming the problem."""
    path = write_seed_layout(tmp_path / "nan", [30, 30, 30])
    with h5py.File(path, "r+") as f:
        f["action"][7, 2] = np.nan
    with pytest.raises(ValueError, match=r"'action' has NaN.*row 7"):
        H5Frames(path)
    path = write_seed_layout(tmp_path / "short", [10, 12, 9])
    with pytest.raises(ValueError, match="20 rows a window needs"):
        RobotTask("t", "t-v1", path)
    gray = tmp_path / "gray.h5"
    cols = row_arrays([30, 30])
    with h5py.File(gray, "w") as f:
        for k, v in cols.items():
            f.create_dataset(k, data=v[..., :1] if k == "pixels" else v)
    with pytest.raises(ValueError, match="RGB"):
        RobotTask("t", "t-v1", gray)
    good = RobotTask("t", "t-v1", write_seed_layout(tmp_path / "good", [30, 30])).train_set()
    with pytest.raises(ValueError, match="1-D integer"):
        good.batch(np.zeros((2, 2), dtype=int))
    with pytest.raises(IndexError, match="indices must lie"):
        good.batch(np.array([len(good)]))


def test_pickled_reader_reopens_and_drops_the_cache(h5_path: Path) -> None:
    """A pickled reader carries no handle and no cached frames, and reads the same frames."""
    reader = H5Frames(h5_path, cache=True)
    rows = np.array([[0, 5, 10], [100, 101, 102]])
    want = reader.frames(rows)
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._file is None and clone._frames is None
    np.testing.assert_array_equal(clone.frames(rows), want)


def test_dataloader_workers_read_the_same_batches(h5_path: Path) -> None:
    """Two forked workers open their own handles and yield the batches one process reads."""
    task = RobotTask("t", "t-v1", h5_path, cache=False)
    ws = task.windows("probe_train")
    multi = list(window_loader(ws, 4, num_workers=2, shuffle=False))
    assert ws.reader._file is None  # the workers read; the parent never opened a handle
    order = list(window_loader(ws, 4, num_workers=0, shuffle=False))
    assert ws.reader._file is not None
    assert len(order) == len(multi) == -(-len(ws) // 4)
    for a, b in zip(order, multi):
        assert set(a) == {"obs", "actions", "target/action", "target/proprio", "target/state"}
        assert isinstance(b["obs"], torch.Tensor)
        torch.testing.assert_close(a["obs"], b["obs"])
        torch.testing.assert_close(a["target/proprio"], b["target/proprio"])
