"""The wall_door Task object, its registration and its on-disk cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jepa_bench.data.base import CACHE_ENV_VAR, Batch, cache_root, iterate_batches
from jepa_bench.data.wall_door import cache as cache_mod
from jepa_bench.data.wall_door import generate as gen
from jepa_bench.data.wall_door import task as task_mod
from jepa_bench.data.wall_door import wall_door
from jepa_bench.registry import TASKS

TINY = {s: 12 for s in gen.SPLITS}


def _task(tmp_path: Path, **kw) -> task_mod.WallDoorTask:
    return wall_door(budget="smoke", data_dir=str(tmp_path), **{**TINY, **kw})


def test_registered_factory_builds_the_spec(tmp_path: Path) -> None:
    """``TASKS.get("wall_door")`` builds a task whose spec matches the documented shapes."""
    task = TASKS.get("wall_door")(budget="smoke", data_dir=str(tmp_path))
    assert isinstance(task, task_mod.WallDoorTask)
    spec = task.spec
    assert (spec.name, spec.version) == ("wall_door", gen.TASK_VERSION)
    assert spec.obs_shape == (2, 65, 65) and spec.action_dim == 2 and spec.seq_len == 17
    assert spec.channel_groups == {"agent": (0,), "wall": (1,)}
    assert spec.static_groups == ("wall",)


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    """Unknown budgets, options and non-positive sizes raise errors that name them."""
    with pytest.raises(ValueError, match="budget"):
        wall_door(budget="huge", data_dir=str(tmp_path))
    with pytest.raises(TypeError, match="trian"):
        wall_door(budget="smoke", data_dir=str(tmp_path), trian=5)
    with pytest.raises(ValueError, match="train: must be an integer >= 1"):
        wall_door(budget="smoke", data_dir=str(tmp_path), train=0)
    with pytest.raises(ValueError, match="data_seed: must be an integer"):
        wall_door(budget="smoke", data_dir=str(tmp_path), data_seed="abc")
    with pytest.raises(ValueError, match="cache: must be true or false"):
        wall_door(budget="smoke", data_dir=str(tmp_path), cache="abc")


def test_train_set_has_no_targets_and_renders_batches(tmp_path: Path) -> None:
    """Training batches carry observations and actions only, in the documented shapes."""
    train = _task(tmp_path).train_set()
    batch = train.batch(np.array([0, 3, 5]))
    assert isinstance(batch, Batch) and batch.targets == {}
    assert batch.obs.shape == (3, 17, 2, 65, 65) and batch.obs.dtype == np.float32
    assert batch.actions.shape == (3, 16, 2) and batch.actions.dtype == np.float32
    assert 0.0 <= batch.obs.min() and batch.obs.max() <= 1.0
    assert sum(len(b) for b in iterate_batches(train, 5)) == len(train) == 12


def test_probe_suites_follow_the_dl25sp_protocol(tmp_path: Path) -> None:
    """Two suites (location, expert) with location targets, rollout mode and the normaliser."""
    suites = {s.name: s for s in _task(tmp_path).probe_suites()}
    assert set(suites) == {"location", "expert"}
    assert set(suites["location"].evals) == {"normal", "wall", "wall_other"}
    assert set(suites["expert"].evals) == {"expert"}
    for suite in suites.values():
        assert suite.targets == ("location",)
        assert (suite.mode, suite.head, suite.metric) == ("rollout", "mlp", "mse_px2")
        mean, std = suite.target_norm
        np.testing.assert_allclose(mean, [31.5863, 32.0618])
        np.testing.assert_allclose(std, [16.1025, 16.1353])
        for ws in [suite.train, *suite.evals.values()]:
            b = ws.batch(np.arange(4))
            t = b.obs.shape[1]
            assert b.targets["location"].shape == (4, t, 2)
            np.testing.assert_array_equal(b.targets["location"], ws.locations[:4])
    assert suites["expert"].train.seq_len == gen.EXPERT_SEQ_LEN


def test_batch_rejects_bad_indices(tmp_path: Path) -> None:
    """Non-integer, 2-D and out-of-range indices raise clear errors."""
    train = _task(tmp_path).train_set()
    with pytest.raises(ValueError, match="1-D integer"):
        train.batch(np.array([0.5]))
    with pytest.raises(ValueError, match="1-D integer"):
        train.batch(np.zeros((2, 2), dtype=int))
    with pytest.raises(IndexError, match=r"\[0, 12\)"):
        train.batch(np.array([12]))


def test_run_seed_does_not_change_data_but_data_seed_does(tmp_path: Path) -> None:
    """Every run seed sees the same data; overriding ``data_seed`` changes it."""
    a = _task(tmp_path, cache=False).splits()["train"]["locations"]
    b = wall_door("smoke", seed=5, data_dir=str(tmp_path), cache=False, **TINY)
    c = wall_door("smoke", data_dir=str(tmp_path), cache=False, data_seed=1, **TINY)
    assert np.array_equal(a, b.splits()["train"]["locations"])
    assert not np.array_equal(a, c.splits()["train"]["locations"])


def test_budget_sizes(tmp_path: Path) -> None:
    """Sizes grow with the budget; the smoke budget generates every split at its size."""
    small, mid, big = (gen.SIZES[b] for b in ("smoke", "default", "full"))
    assert set(small) == set(mid) == set(big) == set(gen.SPLITS)
    assert all(small[k] < mid[k] < big[k] for k in gen.SPLITS)
    assert big["train"] >= 140_000 and mid["train"] >= 2000
    task = wall_door(budget="smoke", data_dir=str(tmp_path))
    assert {k: len(v["locations"]) for k, v in task.splits().items()} == small


def test_describe_is_json_and_names_the_cache(tmp_path: Path) -> None:
    """``describe()`` reports version, data seed, sizes and a cache path under ``data_dir``."""
    task = _task(tmp_path)
    info = json.loads(json.dumps(task.describe()))
    assert info["version"] == gen.TASK_VERSION and info["data_seed"] == gen.DATA_SEED
    assert info["sizes"] == TINY
    assert Path(info["cache_path"]).parent == tmp_path / "wall_door"


def test_cache_location_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``data_dir`` wins over ``$JEPA_BENCH_CACHE``, which wins over the home folder."""
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "env"))
    assert cache_root(None) == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert cache_root(None) == Path.home() / ".cache" / "jepa-bench"


def test_cache_key_separates_seed_and_sizes(tmp_path: Path) -> None:
    """Different data seeds or sizes map to different cache files."""
    base = _task(tmp_path).cache_path
    assert _task(tmp_path, data_seed=3).cache_path != base
    assert _task(tmp_path, train=13).cache_path != base
    assert _task(tmp_path).cache_path == base


def _fail(*_a, **_k):
    raise AssertionError("the generator ran although the cache was valid")


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second task with the same key reads the file instead of generating again."""
    first = _task(tmp_path)
    data = first.splits()
    assert first.built and first.cache_path.is_file()
    monkeypatch.setattr(task_mod, "generate_all", _fail)
    second = _task(tmp_path)
    again = second.splits()
    assert not second.built
    for split in gen.SPLITS:
        for field in gen.FIELDS:
            assert np.array_equal(data[split][field], again[split][field])
    assert not list(first.cache_path.parent.glob("*.tmp"))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bytes(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    # bytes inside the first stored array, past its .npy header
    start = raw.find(b"NUMPY") + 200
    raw[start : start + 16] = bytes(255 - x for x in raw[start : start + 16])
    path.write_bytes(bytes(raw))


def _wrong_shapes(path: Path) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["train/locations"] = arrays["train/locations"][:, :5]
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _changed_values(path: Path) -> None:
    """A well-formed file whose array no longer matches its recorded checksum."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["probe_wall_val/actions"] = arrays["probe_wall_val/actions"] * 2
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _wrong_version(path: Path) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    meta["version"] = "wall_door-v0"
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize(
    "damage", [_truncate, _flip_bytes, _wrong_shapes, _changed_values, _wrong_version]
)
def test_damaged_cache_is_rebuilt_with_a_warning(tmp_path: Path, damage) -> None:
    """Truncated, corrupted, mis-shaped or stale files are detected, reported and rebuilt."""
    task = _task(tmp_path)
    expected = task.splits()["probe_wall_val"]["locations"].copy()
    damage(task.cache_path)
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        again = _task(tmp_path)
        data = again.splits()
    assert again.built
    assert np.array_equal(data["probe_wall_val"]["locations"], expected)
    assert cache_mod.load(again.cache_path, cache_mod.cache_key(gen.DATA_SEED, TINY))


def test_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing the cache fails, neither the target nor a temporary file is left."""
    task = _task(tmp_path, cache=False)
    splits = task.splits()

    def broken_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez", broken_savez)
    path = tmp_path / "wall_door" / "x.npz"
    with pytest.raises(OSError, match="disk full"):
        cache_mod.save(path, splits, cache_mod.cache_key(gen.DATA_SEED, TINY))
    assert list(path.parent.iterdir()) == []


def test_declared_channel_statistics_describe_the_data(tmp_path):
    """The spec's obs_mean / obs_std match the rendered training windows within 10%."""
    import numpy as np

    from jepa_bench.data.wall_door.task import wall_door as make

    task = make(budget="smoke", data_dir=str(tmp_path))
    obs = task.train_set().batch(np.arange(64)).obs
    mean, std = obs.mean(axis=(0, 1, 3, 4)), obs.std(axis=(0, 1, 3, 4))
    assert np.allclose(mean, task.spec.obs_mean, rtol=0.1)
    assert np.allclose(std, task.spec.obs_std, rtol=0.1)
