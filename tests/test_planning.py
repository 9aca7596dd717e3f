"""Planning: interactive environment, episodes, CEM, oracle, plan_eval, evaluator hook, CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from jepa_bench.cli import main
from jepa_bench.config import EvalConfig, PlanConfig, RunConfig
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.env import WallDoorEnv
from jepa_bench.data.wall_door.episodes import (
    CROSS_MAX_PATH,
    SAME_ROOM_DIST,
    make_episodes,
    path_length,
)
from jepa_bench.data.wall_door.generate import generate_chunk
from jepa_bench.data.wall_door.render import render
from jepa_bench.data.wall_door.task import WallDoorTask
from jepa_bench.models.protocol import TrainLatents, recurrent_rollout
from jepa_bench.planning import LatentPlanner, clamp_norm, make_planner, plan_eval

SUITE = WallDoorTask("smoke", cache=False).planning()  # builds no data
# cheap settings: CEM still solves same-room goals with a perfect model
FAST = PlanConfig(
    planner="cem", episodes=5, seeds=1, samples=100, iterations=10, topk=10, max_steps=48,
    max_minutes=None,
)  # fmt: skip
TINY = PlanConfig(
    planner="cem", episodes=1, seeds=1, samples=16, iterations=2, topk=4, max_steps=6,
    max_minutes=None,
)  # fmt: skip


class LocationModel(nn.Module):
    """A perfect toy model: latent = the agent's (x, y); predict = location + action (no walls)."""

    repr_dim = 2

    def __init__(self, nan: bool = False) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.nan = nan

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        w = obs[:, :, 0]  # (B, T, H, W) agent channel
        grid = torch.arange(w.shape[-1], dtype=w.dtype)
        mass = w.sum((-2, -1))
        x = (w.sum(-2) * grid).sum(-1) / mass
        y = (w.sum(-1) * grid).sum(-1) / mass
        z = torch.stack([x, y], -1) * self.scale  # (B, T, 2)
        return z * math.nan if self.nan else z

    def predict(self, history: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return history[:, -1] + actions[:, -1]

    def rollout(self, obs0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return recurrent_rollout(self, self.encode(obs0.unsqueeze(1))[:, 0], actions)

    def train_latents(self, obs: torch.Tensor, actions: torch.Tensor) -> TrainLatents:
        emb = self.encode(obs)
        return TrainLatents(pred=self.rollout(obs[:, 0], actions), target=emb, emb=emb)

    def param_groups(self) -> dict[str, nn.Module]:
        return {"encoder": self}


@pytest.fixture(scope="module")
def toy_result() -> dict:
    return plan_eval(LocationModel(), FAST, "cpu", 0, SUITE)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_env_replays_generator_exactly(seed):
    """Replaying generated actions in the env gives the generator's locations and frames."""
    chunk = generate_chunk("train", 6, np.random.default_rng(seed))
    env = WallDoorEnv()
    obs = env.reset(chunk["locations"][:, 0], chunk["locations"][:, -1], chunk["layouts"])
    frames = [obs]
    for t in range(chunk["actions"].shape[1]):
        obs, _ = env.step(chunk["actions"][:, t])
        np.testing.assert_array_equal(env.position, chunk["locations"][:, t + 1])
        frames.append(obs)
    want = render(chunk["locations"], chunk["layouts"])  # (B, T, 2, 65, 65)
    np.testing.assert_array_equal(np.stack(frames, 1), want)


def test_env_rejects_bad_input():
    """Starts in the wall, NaN actions, wrong shapes and stepping before reset are clear errors."""
    env = WallDoorEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="inside the wall"):
        env.reset([30.0, 5.5], [10.0, 10.0], [30, 40])
    with pytest.raises(ValueError, match="outside the border"):
        env.reset([2.0, 30.0], [10.0, 10.0], [30, 40])
    with pytest.raises(ValueError, match="layout"):
        env.reset([10.0, 10.0], [12.0, 12.0], [5, 40])
    env.reset([10.0, 10.0], [12.0, 12.0], [30, 40])
    with pytest.raises(ValueError, match="NaN"):
        env.step([[math.nan, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((1, 3)))


def test_env_blocks_the_wall_and_reports_distance():
    """A step into the solid wall leaves the agent in place; the door lets it through."""
    env = WallDoorEnv()
    env.reset([[26.0, 10.0], [26.0, 40.0]], [[40.0, 10.0], [33.0, 40.0]], [[30, 40], [30, 40]])
    _, blocked = env.step([[1.5, 0.0], [1.5, 0.0]])
    assert blocked.tolist() == [False, False]
    _, blocked = env.step([[1.5, 0.0], [1.5, 0.0]])
    assert blocked.tolist() == [True, False]
    np.testing.assert_allclose(env.position, [[27.5, 10.0], [29.0, 40.0]])
    np.testing.assert_allclose(env.distance(), [12.5, 4.0], atol=1e-5)


def test_episodes_fixed_and_valid():
    """Episodes are seeded, extend with n, and respect each case's geometry."""
    same, cross = make_episodes("same_room", 12), make_episodes("cross_room", 12)
    again = make_episodes("same_room", 4)
    np.testing.assert_array_equal(again.starts, same.starts[:4])
    assert not np.array_equal(make_episodes("same_room", 4, seed=1).starts, again.starts)
    for eps in (same, cross):
        for pts in (eps.starts, eps.goals):
            assert ph.in_room(pts).all() and not ph.in_wall(pts[:, None], eps.layouts).any()
        assert not ph.is_held_out(eps.layouts).any()
    side = lambda p, e: ph.side_of_wall(p[:, None], e.layouts)[:, 0]  # noqa: E731
    assert (side(same.starts, same) == side(same.goals, same)).all()
    d = np.hypot(*(same.goals - same.starts).T)
    assert (d >= SAME_ROOM_DIST[0] - 1e-4).all() and (d <= SAME_ROOM_DIST[1] + 1e-4).all()
    assert (side(cross.starts, cross) * side(cross.goals, cross) == -1).all()
    assert ph.blocked(cross.starts, cross.goals, cross.layouts).all()  # no straight path
    assert (path_length(cross.starts, cross.goals, cross.layouts) <= CROSS_MAX_PATH + 1e-4).all()
    with pytest.raises(ValueError, match="unknown planning case"):
        make_episodes("kitchen", 2)


@settings(max_examples=50, deadline=None)
@given(
    p=st.tuples(st.floats(5, 59), st.floats(5, 59)),
    q=st.tuples(st.floats(5, 59), st.floats(5, 59)),
    wx=st.integers(*ph.WALL_X_RANGE),
    dy=st.integers(*ph.DOOR_Y_RANGE),
)
def test_path_length_properties(p, q, wx, dy):
    """Shortest paths are symmetric, never shorter than Euclidean, Euclidean within a room."""
    a, b, lay = np.array([p]), np.array([q]), np.array([[wx, dy]], np.int16)
    ab, ba = path_length(a, b, lay)[0], path_length(b, a, lay)[0]
    euclid = float(np.hypot(*(a - b)[0]))
    assert ab == pytest.approx(ba, abs=1e-9) and ab >= euclid - 1e-9
    if ph.side_of_wall(a[:, None], lay)[0, 0] * ph.side_of_wall(b[:, None], lay)[0, 0] >= 0:
        assert ab == pytest.approx(euclid)


@settings(max_examples=50, deadline=None)
@given(x=st.lists(st.floats(-10, 10), min_size=2, max_size=2), m=st.floats(0.1, 3.0))
def test_clamp_norm_bounds_length_keeps_direction(x, m):
    """clamp_norm caps an action's length at m, keeps its direction and leaves short ones alone."""
    a = torch.tensor(x, dtype=torch.float64)
    out = clamp_norm(a, m)
    assert out.norm() <= m + 1e-9
    if a.norm() <= m:
        assert torch.equal(out, a)
    else:
        assert torch.allclose(out / out.norm(), a / a.norm())


def test_latent_planner_uses_context_and_goal():
    """One planning call with the perfect model points the first action at each goal."""
    cfg = PlanConfig(samples=64, iterations=5, topk=8)
    planner = LatentPlanner(LocationModel(), make_planner(cfg, 1.8, "cem"), 2)
    z = torch.tensor([[[10.0, 10.0]], [[30.0, 30.0]]])  # (B=2, K=1, D)
    goal = torch.tensor([[20.0, 10.0], [30.0, 20.0]])
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    res = planner.plan(z, torch.zeros(2, 0, 2), goal, torch.zeros(2, 8, 2), gens)
    assert res.actions.shape == (2, 8, 2)
    assert res.actions[0, :, 0].sum() > 5.0 and res.actions[1, :, 1].sum() < -5.0
    with pytest.raises(ValueError, match="context"):
        planner.plan(torch.zeros(1, 2, 2), torch.zeros(1, 0, 2), torch.zeros(1, 2), z[:1], gens)


def test_gradient_planner_descends_through_the_model():
    """The gradient planner follows the model's gradient to a goal in one call."""
    cfg = PlanConfig(iterations=30, restarts=2, lr=0.5)
    planner = LatentPlanner(LocationModel(), make_planner(cfg, 1.8, "gradient"), 2)
    z, goal = torch.tensor([[[10.0, 10.0]]]), torch.tensor([[16.0, 12.0]])
    gens = [torch.Generator().manual_seed(0)]
    res = planner.plan(z, torch.zeros(1, 0, 2), goal, torch.zeros(1, 8, 2), gens)
    assert float(res.cost[0]) < 0.1
    assert torch.allclose(res.actions[0].sum(0), torch.tensor([6.0, 2.0]), atol=0.3)


def test_perfect_model_reaches_same_room_goals(toy_result):
    """CEM on a perfect latent model solves same-room goals; random actions rarely do."""
    m = toy_result["metrics"]
    assert m["plan/same_room/success"] >= 0.8
    assert m["plan/random/same_room/success"] <= 0.2
    assert m["plan/same_room/final_dist"] < m["plan/random/same_room/final_dist"]
    assert m["plan/same_room/progress"] > max(0.0, m["plan/random/same_room/progress"])
    assert 0 < m["plan/same_room/steps_to_success"] <= FAST.max_steps


def test_oracle_reaches_goals_in_both_cases(toy_result):
    """The oracle (true dynamics, path-length cost) solves same-room goals and crosses the door."""
    m = toy_result["metrics"]
    assert m["plan/oracle/same_room/success"] >= 0.8
    assert m["plan/oracle/cross_room/success_loose"] >= 0.6


def test_plan_eval_metrics_and_details(toy_result):
    """Every metric has a direction, the details are JSON, and settings are recorded."""
    m, hib, d = toy_result["metrics"], toy_result["higher_is_better"], toy_result["details"]
    assert set(m) == set(hib)
    assert hib["plan/same_room/success"] and not hib["plan/cross_room/final_dist"]
    assert not hib["plan/time_per_call_ms"] and m["plan/time_per_call_ms"] > 0
    assert d["settings"]["samples"] == FAST.samples and d["radius_px"] == FAST.radius
    assert d["settings"]["planner"] == "cem" and d["settings"]["episode_seeds"] == [2025]
    assert len(d["episodes"]["model"]["cross_room"]) == FAST.episodes
    s = d["summary"]["model"]["same_room"]
    assert s["episodes"] + s["solved_at_start"] == FAST.episodes
    assert m["plan/same_room/success_lo"] <= m["plan/same_room/success"]
    assert m["plan/same_room/success"] <= m["plan/same_room/success_hi"]
    assert d["hardware"]["threads"] >= 1 and d["call_time"]["model"]["episodes"] == FAST.episodes
    json.dumps(d, allow_nan=True)


def test_plan_eval_seeded_and_nan_safe():
    """Same seed, same metrics; a NaN model gets NaN metrics and a message, not an exception."""
    a, b = (plan_eval(LocationModel(), TINY, "cpu", 3, SUITE) for _ in range(2))
    timing = {"plan/time_per_call_ms", "plan/oracle/time_per_call_ms"}
    assert {k: v for k, v in a["metrics"].items() if k not in timing} == {
        k: v for k, v in b["metrics"].items() if k not in timing
    }
    bad = plan_eval(LocationModel(nan=True), TINY, "cpu", 0, SUITE, baselines=False)
    assert math.isnan(bad["metrics"]["plan/same_room/success"])
    assert any("non-finite" in m or "NaN" in m for m in bad["details"]["messages"])
    slow = dataclasses.replace(TINY, max_minutes=1e-9)
    out = plan_eval(LocationModel(), slow, "cpu", 0, SUITE)
    assert out["metrics"] == {} and "max_minutes" in out["details"]["messages"][0]
    with pytest.raises(ValueError, match="replan_every"):
        PlanConfig(replan_every=0)


def test_evaluator_plans_only_when_on():
    """The evaluator adds plan/ metrics for tasks that offer planning when planning is on."""
    from jepa_bench.evaluate.evaluator import evaluate
    from tests.helpers import ToyTask

    class PlanToyTask(ToyTask):
        def planning(self):
            return SUITE

    cfg = EvalConfig(probe_epochs=1, eval_untrained=False, planning=True, plan=TINY)
    kw = dict(device=torch.device("cpu"), seed=0, progress=False)
    res = evaluate(LocationModel(), PlanToyTask(), cfg, **kw)
    assert "plan/same_room/success" in res.metrics and "planning" in res.details
    off = evaluate(LocationModel(), PlanToyTask(), EvalConfig(probe_epochs=1, planning=False), **kw)
    assert not any(k.startswith("plan/") for k in off.metrics)
    no_env = evaluate(LocationModel(), ToyTask(), cfg, **kw)  # a task without planning
    assert not any(k.startswith("plan/") for k in no_env.metrics)


def test_eval_config_round_trips_plan_settings():
    """RunConfig.from_dict rebuilds the nested PlanConfig from its dict form."""
    cfg = RunConfig(eval=EvalConfig(planning=False, plan=PlanConfig(horizon=5)))
    back = RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert back.eval.plan == PlanConfig(horizon=5) and back.eval.planning is False
    assert back.hash() == cfg.hash()


@pytest.fixture
def smoke_run(tmp_path):
    """A smoke-budget convnext_mlp_smoke run directory as `jepa-bench run` leaves it."""
    from jepa_bench.models.params import param_counts
    from jepa_bench.record import build_record, file_sha256, write_record
    from jepa_bench.runner import build, resolve
    from jepa_bench.train.checkpoint import MODEL_FILE, save_model

    cfg = resolve({"model": "convnext_mlp_smoke", "budget": "smoke", "out": str(tmp_path)})
    built = build(cfg)
    task, model = built.task, built.model
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    save_model(model, run_dir, step=3)
    record = build_record(
        task={"name": "wall_door", "version": task.spec.version, "details": {}},
        model={"name": cfg.model, "params": param_counts(model)},
        regularizer={"spec": cfg.reg, "resolved": {}},
        seed=0,
        budget="smoke",
        config=cfg.to_dict(),
        metrics={"probe/normal": 12.5},
        higher_is_better={"probe/normal": False},
        times={"train_s": 1.0, "eval_s": 1.0, "total_s": 2.0, "data_s": 0.0},
        checkpoint={"path": MODEL_FILE, "sha256": file_sha256(run_dir / MODEL_FILE)},
    )
    write_record(run_dir / "result.json", record)
    return run_dir


def test_cli_plans_and_writes_record(smoke_run):
    """`plan --write` prints the table and adds plan/ metrics, leaving other metrics untouched."""
    from jepa_bench.record import load_record

    before = load_record(smoke_run / "result.json")
    args = ["plan", "--run", str(smoke_run), "--episodes", "1", "--seeds", "1", "--samples", "16",
            "--iterations", "2", "--topk", "4", "--max-steps", "6", "--write", "-q"]  # fmt: skip
    out = CliRunner().invoke(main, [*args, "--untrained"])
    assert out.exit_code == 0, out.output
    assert "same_room" in out.output and "ms per decision" in out.output
    after = load_record(smoke_run / "result.json")
    assert after["metrics"]["probe/normal"] == before["metrics"]["probe/normal"]
    assert after["metrics"]["plan/same_room/success"]["higher_is_better"] is True
    assert after["details"]["planning"]["trained"]["settings"]["samples"] == 16
    assert after["metrics"]["plan/same_room/success_hi"]["higher_is_better"] is True
    untrained = lambda: load_record(smoke_run / "result.json")["untrained_metrics"]  # noqa: E731
    assert {"plan/same_room/final_dist", "plan/random/same_room/success"} <= set(untrained())
    assert CliRunner().invoke(main, args).exit_code == 0  # same settings: untrained keys kept
    assert {"plan/same_room/final_dist", "plan/random/same_room/success"} <= set(untrained())
    assert CliRunner().invoke(main, [*args, "--horizon", "3"]).exit_code == 0
    assert not any(k.startswith("plan/") for k in untrained())  # other settings: dropped


def test_cli_refuses_mismatched_weights_and_bad_dirs(smoke_run, tmp_path):
    """--write refuses weights that differ from the record's; a non-run directory is an error."""
    from jepa_bench.train.checkpoint import MODEL_FILE

    raw = (smoke_run / "result.json").read_text()
    (smoke_run / MODEL_FILE).write_bytes((smoke_run / MODEL_FILE).read_bytes() + b" ")
    out = CliRunner().invoke(main, ["plan", "--run", str(smoke_run), "--write", "-q"])
    assert out.exit_code != 0 and "sha256" in out.output
    assert (smoke_run / "result.json").read_text() == raw
    empty = tmp_path / "empty"
    empty.mkdir()
    out = CliRunner().invoke(main, ["plan", "--run", str(empty)])
    assert out.exit_code == 2 and "it has no config.yaml" in out.output
