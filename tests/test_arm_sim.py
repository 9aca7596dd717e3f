"""The arm_sim simulator (kinematics, policy, renderer), its LeRobot -> HDF5 cache, the task."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.cli import main
from jepa_bench.convert.layout import open_lewm_h5
from jepa_bench.convert.video import probe_video
from jepa_bench.data.robot.arm_sim import dataset as ds
from jepa_bench.data.robot.arm_sim import kinematics as kin
from jepa_bench.data.robot.arm_sim.policy import CUBE, MAX_STEP, simulate_episode
from jepa_bench.data.robot.arm_sim.render import Camera, render_episode
from jepa_bench.data.robot.arm_sim.task import SIZES, arm_sim

TINY = dict(episodes=3, image_size=32, duration_scale=0.35)


@settings(max_examples=60, deadline=None)
@given(
    r=st.floats(0.08, 0.2),
    angle=st.floats(-60, 60),
    z=st.floats(0.005, 0.09),
    roll=st.floats(-40, 40),
)
def test_inverse_kinematics_reaches_the_target(r: float, angle: float, z: float, roll: float):
    """forward(inverse(tip)) puts the fingertips at tip with the hand pointing straight down."""
    a = np.deg2rad(angle)
    tip = np.array([r * np.cos(a), r * np.sin(a), z])
    q = np.append(kin.inverse(tip, roll), 20.0)
    pts = kin.forward(q)
    np.testing.assert_allclose(pts["tip"], tip, atol=1e-9)
    np.testing.assert_allclose(pts["wrist"][:2], tip[:2], atol=1e-9)  # hand vertical
    assert pts["wrist"][2] > tip[2] and pts["elbow"][2] > pts["wrist"][2] - kin.FOREARM
    assert q[4] == pytest.approx(roll)


def test_unreachable_targets_are_errors() -> None:
    """A target beyond the arm's reach raises UnreachableError."""
    with pytest.raises(kin.UnreachableError):
        kin.inverse(np.array([0.5, 0.0, 0.0]))


def test_scripted_policy_places_the_cube() -> None:
    """Most episodes end with the cube resting on the target; the follower obeys its speed limit."""
    placed = 0
    for seed in range(30):
        ep = simulate_episode(np.random.default_rng(seed))
        assert 120 <= len(ep) <= 320
        assert ep.cube[0, 2] == pytest.approx(CUBE / 2) and ep.cube[-1, 2] == pytest.approx(
            CUBE / 2
        )
        assert np.abs(np.diff(ep.proprio, axis=0)).max() <= MAX_STEP + 1e-4
        assert ep.cube[:, 2].max() > 0.05  # it was lifted
        placed += np.linalg.norm(ep.cube[-1, :2] - ep.target[:2]) < 0.015
    assert placed >= 27


def test_renderer_draws_the_cube_where_it_is() -> None:
    """Frames are (T, S, S, 3) uint8, deterministic, and red at the cube's projected centre."""
    ep = simulate_episode(np.random.default_rng(3))
    frames = render_episode(ep, 48)
    assert frames.shape == (len(ep), 48, 48, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, render_episode(ep, 48))
    col, row, _ = Camera(48).project(ep.cube[0].astype(np.float64))
    r, g, b = frames[0, int(round(float(row))), int(round(float(col)))].astype(int)
    assert r > g + 60 and r > b + 60
    assert np.abs(frames[0].astype(int) - frames[len(ep) // 2]).sum() > 0  # the arm moved
    with pytest.raises(ValueError, match="at least 16"):
        render_episode(ep, 8)


@pytest.fixture(scope="module")
def sim_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("simcache")
    path, built = ds.ensure_sim_data(root, **TINY)
    assert built
    return root, path


def test_dataset_is_real_lerobot_v3_converted(sim_cache: tuple[Path, Path]) -> None:
    """The cache holds a LeRobot v3.0 dataset (parquet + AV1 mp4) and its faithful HDF5."""
    _, path = sim_cache
    lerobot = path.parent / "lerobot"
    info = json.loads((lerobot / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == TINY["episodes"]
    table = pq.read_table(lerobot / "data" / "chunk-000" / "file-000.parquet").to_pandas()
    mp4 = lerobot / "videos" / ds.CAMERA / "chunk-000" / "file-000.mp4"
    assert probe_video(mp4).codec in ("libdav1d", "av1", "libaom-av1")
    sims = [simulate_episode(np.random.default_rng(np.random.SeedSequence([ds.DATA_SEED, i])),
                             TINY["duration_scale"]) for i in range(TINY["episodes"])]  # fmt: skip
    assert len(table) == sum(len(e) for e in sims)
    with open_lewm_h5(path) as h5:
        np.testing.assert_array_equal(h5.ep_len, [len(e) for e in sims])
        np.testing.assert_array_equal(
            h5.columns["state"][:], np.concatenate([e.cube for e in sims])
        )
        np.testing.assert_array_equal(
            h5.columns["proprio"][:], np.concatenate([e.proprio for e in sims])
        )
        np.testing.assert_array_equal(
            h5.columns["action"][:], np.concatenate([e.action for e in sims])
        )
        frames = h5.columns["pixels"][: len(sims[0])]
    rendered = render_episode(sims[0], TINY["image_size"])
    err = np.abs(frames.astype(int) - rendered).mean()
    assert err < 6.0, f"decoded frames differ from the rendered ones by {err:.1f} on average"


def test_cache_is_reused_and_repaired(sim_cache: tuple[Path, Path]) -> None:
    """A second call reuses the folder; a damaged key is reported and the folder rebuilt."""
    root, path = sim_cache
    again, built = ds.ensure_sim_data(root, **TINY)
    assert again == path and not built
    (path.parent / ds.KEY_NAME).write_text("{broken")
    with pytest.warns(RuntimeWarning, match="unusable"):
        fixed, built = ds.ensure_sim_data(root, **TINY)
    assert built and fixed == path and json.loads((path.parent / ds.KEY_NAME).read_text())
    leftovers = [
        p.name for p in path.parent.parent.iterdir() if ".tmp-" in p.name or ".stale-" in p.name
    ]
    assert leftovers == []


def test_task_spec_is_known_before_any_data(tmp_path: Path) -> None:
    """Building the task generates nothing; its spec follows the budget and window options."""
    task = arm_sim(budget="default", data_dir=str(tmp_path), frameskip=3, history_size=2)
    assert not (tmp_path / "arm_sim").exists()
    size = SIZES["default"]["image_size"]
    assert task.spec.obs_shape == (3, size, size) and task.spec.action_dim == 18
    assert task.spec.seq_len == 3 and task.spec.proprio_dim == 6
    assert task.spec.channel_groups == {"rgb": (0, 1, 2)} and task.spec.static_groups == ()
    with pytest.raises(ValueError, match="episodes"):
        arm_sim(budget="smoke", data_dir=str(tmp_path), episodes=1)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["convnext_mlp_smoke", "lewm_smoke"])
def test_cli_runs_every_model_family(sim_cache: tuple[Path, Path], tmp_path: Path, model: str):
    """`jepa-bench run --task arm_sim` trains and evaluates each model family (smoke sizes)."""
    root, _ = sim_cache
    args = ["run", "-m", model, "-t", "arm_sim", "-b", "smoke", "-q", "--out", str(tmp_path),
            "--data-dir", str(root)] + [f"--task-arg={k}={v}" for k, v in TINY.items()]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the cache is reused, not rebuilt
        res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (run_dir,) = tmp_path.iterdir()
    rec = json.loads((run_dir / "result.json").read_text())
    assert rec["task"]["version"] == ds.SIM_VERSION
    assert rec["task"]["details"]["generated_this_run"] is False
    assert {"probe/action/r2", "probe/proprio/r2", "probe/state/r2"} <= set(rec["metrics"])
