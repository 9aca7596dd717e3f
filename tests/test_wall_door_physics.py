"""Physics, generators and rendering of the wall_door task, checked step by step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jepa_bench.data.wall_door import generate as gen
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.render import CUTOFF, render, render_torch

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALL_SPLITS = list(gen.SPLITS)
SPEC_DOT_STD = 1.3  # PLDM dot_std, from the task's specification


def _interval(p: float, d: float, lo: float, hi: float) -> tuple[float, float]:
    """Parameters t (unbounded) where p + t d lies in [lo, hi]; empty as (1, 0)."""
    if d == 0:
        return (-np.inf, np.inf) if lo <= p <= hi else (1.0, 0.0)
    a, b = (lo - p) / d, (hi - p) / d
    return min(a, b), max(a, b)


def reference_blocked(p: np.ndarray, q: np.ndarray, wx: int, dy: int) -> bool:
    """Independent slab test of a step against the border and the two solid wall pieces."""
    if not (4 < q[0] < 60 and 4 < q[1] < 60):
        return True
    d = (float(q[0]) - float(p[0]), float(q[1]) - float(p[1]))
    tx = _interval(float(p[0]), d[0], wx - 1, wx + 1)
    for ylo, yhi in ((-np.inf, dy - 4), (dy + 4, np.inf)):
        ty = _interval(float(p[1]), d[1], ylo, yhi)
        lo, hi = max(0.0, tx[0], ty[0]), min(1.0, tx[1], ty[1])
        # the door edges themselves are open: a piece must be entered beyond its edge
        if lo < hi or (lo == hi and abs(p[1] + lo * d[1] - dy) > 4):
            return True
    return False


def _check_steps(data: dict[str, np.ndarray]) -> None:
    """Every recorded step either moved by exactly its action or was a blocked step."""
    locs, acts, lays = data["locations"], data["actions"], data["layouts"]
    for i in range(len(locs)):
        wx, dy = int(lays[i, 0]), int(lays[i, 1])
        for t in range(acts.shape[1]):
            p, a, nxt = locs[i, t], acts[i, t], locs[i, t + 1]
            q = (p + a).astype(np.float32)
            if reference_blocked(p, q, wx, dy):
                assert np.array_equal(nxt, p), f"traj {i} step {t}: blocked step moved the agent"
            else:
                np.testing.assert_allclose(nxt - p, a, atol=1e-4, err_msg=f"traj {i} step {t}")


def _samples_along(locs: np.ndarray, k: int = 33) -> np.ndarray:
    """Points along every recorded step segment: (N, (T-1) * k, 2)."""
    s = np.linspace(0.0, 1.0, k)[None, None, :, None]
    p, q = locs[:, :-1, None, :], locs[:, 1:, None, :]
    pts = p + s * (q - p)  # (N, T-1, k, 2)
    return pts.reshape(len(locs), -1, 2)


@PROPERTY
@given(seed=SEEDS, split=st.sampled_from(ALL_SPLITS))
def test_steps_follow_the_collision_rule(seed: int, split: str) -> None:
    """A step moves by its action unless it would cross a border, the wall or a door edge."""
    data = gen.generate_chunk(split, 48, np.random.default_rng(seed))
    _check_steps(data)


@PROPERTY
@given(seed=SEEDS, split=st.sampled_from(ALL_SPLITS))
def test_agent_never_enters_wall_or_leaves_room(seed: int, split: str) -> None:
    """No point of any travelled segment lies in the solid wall or on/outside the border."""
    data = gen.generate_chunk(split, 64, np.random.default_rng(seed))
    pts = _samples_along(data["locations"].astype(np.float64))
    wx = data["layouts"][:, 0, None].astype(np.float64)
    dy = data["layouts"][:, 1, None].astype(np.float64)
    solid = (np.abs(pts[..., 0] - wx) <= 1) & (np.abs(pts[..., 1] - dy) > 4)
    assert not solid.any(), "a trajectory passes through the wall outside the door"
    assert ((pts > 4) & (pts < 60)).all(), "a trajectory touches or leaves the border"


@PROPERTY
@given(seed=SEEDS, split=st.sampled_from(["train", "probe_expert_val"]))
def test_unobstructed_steps_have_action_length(seed: int, split: str) -> None:
    """Exploration and expert actions are 0.2..1.8 long; unblocked steps move exactly that far."""
    data = gen.generate_chunk(split, 128, np.random.default_rng(seed))
    length = np.linalg.norm(data["actions"], axis=-1)
    assert length.min() >= 0.2 - 1e-6 and length.max() <= 1.8 + 1e-6
    moved = np.linalg.norm(np.diff(data["locations"], axis=1), axis=-1)
    free = moved > 0
    assert free.mean() > 0.5
    np.testing.assert_allclose(moved[free], length[free], atol=1e-4)


@PROPERTY
@given(seed=SEEDS)
def test_door_crossing_trajectories_really_cross(seed: int) -> None:
    """Trajectories built as door crossings go from one room to the other, 60% of the set."""
    n = 100
    data = gen.generate_chunk("train", n, np.random.default_rng(seed))
    cross = data["kinds"] == gen.CROSSING
    assert cross.sum() == round(0.6 * n)
    rel_x = data["locations"][..., 0] - data["layouts"][:, 0, None]  # x - wall_x: (N, T)
    both_rooms = (rel_x.min(axis=1) < -1) & (rel_x.max(axis=1) > 1)
    assert both_rooms[cross].all()


@PROPERTY
@given(seed=SEEDS, split=st.sampled_from(["probe_wall_val", "probe_wall_other_val"]))
def test_wall_runs_stop_at_the_wall_or_pass_the_door(seed: int, split: str) -> None:
    """probe_wall: unit actions toward the wall; door-facing starts pass, the others stop at it."""
    data = gen.generate_chunk(split, 200, np.random.default_rng(seed))
    locs, acts, lays = data["locations"], data["actions"], data["layouts"].astype(np.float32)
    rel_x0 = locs[:, 0, 0] - lays[:, 0]
    assert (acts == acts[:, :1]).all() and (np.abs(acts[..., 0]) == 1).all()
    assert (acts[..., 1] == 0).all() and (np.sign(acts[:, 0, 0]) == -np.sign(rel_x0)).all()
    at_door = np.abs(locs[:, 0, 1] - lays[:, 1]) <= 2
    assert 0.1 < at_door.mean() < 0.4  # 25% expected
    rel_end = locs[:, -1, 0] - lays[:, 0]
    passed = np.sign(rel_end) != np.sign(rel_x0)
    assert (passed == at_door).all()
    stopped = ~at_door
    assert (np.abs(rel_end[stopped]) - 1 < 1.0).all(), "blocked runs end next to the wall face"


def test_layout_pools_partition_the_grid_and_stay_disjoint() -> None:
    """probe_wall_other layouts are exactly the held-out ranges, never seen by other splits."""
    train_pool = {tuple(x) for x in ph.layout_grid(held_out=False)}
    held_pool = {tuple(x) for x in ph.layout_grid(held_out=True)}
    assert not train_pool & held_pool
    assert len(train_pool | held_pool) == 25 * 45
    lo, hi = ph.HELD_OUT_WALL_X
    assert all(lo <= wx <= hi for wx, _ in held_pool)
    data = gen.generate_all({s: 300 for s in gen.SPLITS}, data_seed=7)
    other = {tuple(x) for x in data.pop("probe_wall_other_val")["layouts"]}
    seen = {tuple(x) for d in data.values() for x in d["layouts"]}
    assert other and other <= held_pool
    assert not other & seen
    assert seen <= train_pool


@PROPERTY
@given(seed=st.integers(0, 10_000))
def test_generation_is_deterministic_from_the_seed(seed: int) -> None:
    """The same data seed gives identical arrays; another seed gives different ones."""
    a = gen.generate_split("probe_normal_val", 40, data_seed=seed)
    b = gen.generate_split("probe_normal_val", 40, data_seed=seed)
    c = gen.generate_split("probe_normal_val", 40, data_seed=seed + 1)
    for field in gen.FIELDS:
        assert np.array_equal(a[field], b[field])
    assert not np.array_equal(a["locations"], c["locations"])


@PROPERTY
@given(seed=SEEDS, split=st.sampled_from(ALL_SPLITS))
def test_rendered_blob_peaks_at_the_location(seed: int, split: str) -> None:
    """The agent channel's brightest pixel is within 1 px of the label and matches the Gaussian."""
    data = gen.generate_chunk(split, 8, np.random.default_rng(seed))
    locs = data["locations"]
    obs = render(locs, data["layouts"])
    assert obs.dtype == np.float32 and obs.shape == (8, locs.shape[1], 2, 65, 65)
    assert obs.min() >= 0.0 and obs.max() <= 1.0
    agent = obs[:, :, 0].reshape(8, locs.shape[1], -1)
    row, col = np.divmod(agent.argmax(-1), 65)
    assert (np.abs(col - locs[..., 0]) <= 1).all() and (np.abs(row - locs[..., 1]) <= 1).all()
    d2 = (col - locs[..., 0]) ** 2 + (row - locs[..., 1]) ** 2
    np.testing.assert_allclose(agent.max(-1), np.exp(-d2 / (2 * SPEC_DOT_STD**2)), rtol=1e-5)


@PROPERTY
@given(x=st.floats(0, 64), y=st.floats(0, 64))
def test_agent_channel_holds_no_subnormals(x: float, y: float) -> None:
    """Every agent pixel is 0 or the Gaussian, and 0 exactly where the Gaussian is below the
    cutoff (no subnormal floats), on the host and in torch alike."""
    loc = np.array([[[x, y]]], np.float32)
    agent = render(loc, np.array([[30, 30]], np.int16))[0, 0, 0]
    assert not ((agent > 0) & (agent < CUTOFF)).any()
    rows, cols = np.mgrid[0:65, 0:65].astype(np.float32)
    gauss = np.exp(-0.5 / SPEC_DOT_STD**2 * (cols - x) ** 2) * np.exp(
        -0.5 / SPEC_DOT_STD**2 * (rows - y) ** 2
    )
    normal = gauss >= CUTOFF
    np.testing.assert_allclose(agent[normal], gauss[normal], rtol=1e-5)
    assert (agent[~normal] == 0).all()
    ours = render_torch(torch.from_numpy(loc), torch.tensor([[30, 30]]))[0, 0, 0].numpy()
    assert not ((ours > 0) & (ours < CUTOFF)).any()


@PROPERTY
@given(seed=SEEDS, split=st.sampled_from(ALL_SPLITS))
def test_wall_channel_is_static_and_matches_layout(seed: int, split: str) -> None:
    """Channel 1 is constant in time, binary, and draws the border, wall band and door."""
    data = gen.generate_chunk(split, 6, np.random.default_rng(seed))
    obs = render(data["locations"], data["layouts"])
    wall = obs[:, :, 1]
    assert (wall == wall[:, :1]).all()
    assert set(np.unique(wall)) <= {0.0, 1.0}
    for img, (wx, dy) in zip(wall[:, 0], data["layouts"].astype(int), strict=True):
        assert (img[[4, 60], :] == 1).all() and (img[:, [4, 60]] == 1).all()
        rows = np.arange(5, 60)
        closed = np.abs(rows - dy) > 4
        for col in (wx - 1, wx, wx + 1):
            assert (img[rows, col] == closed).all()
        assert img[5:60, 5:60].sum() == 3 * closed.sum()


def test_render_rejects_bad_input() -> None:
    """Wrong shapes, mismatched layouts and NaN locations raise errors naming the problem."""
    lay = np.array([[30, 30]], dtype=np.int16)
    with pytest.raises(ValueError, match="shape"):
        render(np.zeros((1, 17, 3), np.float32), lay)
    with pytest.raises(ValueError, match="layouts"):
        render(np.full((2, 17, 2), 30, np.float32), lay)
    with pytest.raises(ValueError, match="NaN"):
        render(np.full((1, 17, 2), np.nan, np.float32), lay)


def test_generation_is_the_same_with_any_number_of_workers(monkeypatch):
    """Chunks carry their own seeds: one process or two give identical splits."""
    monkeypatch.setattr(gen, "CHUNK", 50)  # several chunks per split, cheaply
    sizes = {"train": 120, "probe_wall_val": 70}
    one = gen.generate_all(sizes, data_seed=3, workers=1)
    two = gen.generate_all(sizes, data_seed=3, workers=2)
    for split in sizes:
        for field in gen.FIELDS:
            np.testing.assert_array_equal(one[split][field], two[split][field])
