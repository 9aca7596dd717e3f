"""Every registered task honours the task protocol: spec, window shapes, probe suites, determinism,
and (when it offers one) its planning suite.

A task that needs data given to it (a recording) names how to make a small one in ``SMALL``;
every other task is built at the smoke budget in a temporary cache.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from jepa_bench.data.base import ProbeSuite, TaskSpec, WindowSet, planning_suite
from jepa_bench.evaluate.evaluator import check_suites
from jepa_bench.record.schema import SAFE_NAME
from jepa_bench.registry import TASKS
from tests.robot_files import write_seed_layout

#: task -> small factory arguments, given a temporary folder
SMALL: dict[str, Callable[[Path], dict[str, Any]]] = {
    "koch_pick_place": lambda tmp: {"data": str(write_seed_layout(tmp / "rec", [30, 34, 28, 31]))},
    "arm_sim": lambda tmp: {"episodes": 3, "image_size": 32, "duration_scale": 0.35},
}


@pytest.fixture(scope="module", params=TASKS.names())
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(name, factory, kwargs, task) of one registered task at the smoke budget."""
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    kwargs = {"budget": "smoke", "seed": 0, "data_dir": str(tmp / "cache")}
    kwargs.update(SMALL.get(name, lambda _: {})(tmp))
    factory = TASKS.get(name)
    return name, factory, kwargs, factory(**kwargs)


def _check_batch(ws: WindowSet, spec: TaskSpec, where: str, targets: tuple[str, ...] = ()) -> None:
    assert len(ws) > 0, f"{where}: no windows"
    idx = np.arange(min(2, len(ws)))
    batch = ws.batch(idx)
    b, t = batch.obs.shape[:2]
    assert b == len(idx) and t >= 2, where
    assert batch.obs.dtype == np.float32 and batch.obs.shape[2:] == spec.obs_shape, where
    assert batch.actions.dtype == np.float32, where
    assert batch.actions.shape == (b, t - 1, spec.action_dim), where
    assert np.isfinite(batch.obs).all() and np.isfinite(batch.actions).all(), where
    for name in targets:
        y = batch.targets[name]
        assert y.ndim == 3 and y.shape[:2] == (b, t) and np.isfinite(y).all(), (where, name)


def test_spec_describes_the_data(built) -> None:
    """The spec is complete and consistent: names, shapes, channel groups, pixel statistics."""
    name, _, _, task = built
    spec = task.spec
    assert isinstance(spec, TaskSpec) and spec.name == name
    assert SAFE_NAME.match(spec.version)
    c, h, w = spec.obs_shape
    assert min(c, h, w) >= 1 and spec.action_dim >= 1 and spec.seq_len >= 2
    grouped = sorted(ch for group in spec.channel_groups.values() for ch in group)
    assert not spec.channel_groups or grouped == list(range(c))
    assert set(spec.static_groups) <= set(spec.channel_groups)
    for stats in (spec.obs_mean, spec.obs_std):
        assert stats is None or len(stats) == c


def test_training_windows_have_protocol_shapes(built) -> None:
    """Training windows: float32 (B, T, C, H, W) observations and (B, T-1, A) actions."""
    _, _, _, task = built
    train = task.train_set()
    _check_batch(train, task.spec, "train")
    assert train.batch(np.arange(1)).obs.shape[1] == task.spec.seq_len


def test_probe_suites_are_complete(built) -> None:
    """Probe suites are valid for the evaluator and every split carries the suite's targets."""
    _, _, _, task = built
    suites = task.probe_suites()
    assert suites and all(isinstance(s, ProbeSuite) for s in suites)
    check_suites(suites)  # the evaluator's own check: known metrics and heads, unique keys
    for suite in suites:
        _check_batch(suite.train, task.spec, f"{suite.name}:train", suite.targets)
        for split, ws in suite.evals.items():
            _check_batch(ws, task.spec, f"{suite.name}:{split}", suite.targets)


def test_same_arguments_same_data(built) -> None:
    """Building the task again gives the same spec, windows and description."""
    _, factory, kwargs, task = built
    again = factory(**kwargs)
    assert again.spec == task.spec
    idx = np.arange(min(3, len(task.train_set())))
    a, b = task.train_set().batch(idx), again.train_set().batch(idx)
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.actions, b.actions)
    json.dumps(task.describe())  # JSON-able for the record


def test_planning_suite_when_offered(built) -> None:
    """A task that offers planning gives a working environment, fixed episodes and baselines."""
    _, _, _, task = built
    suite = planning_suite(task)
    if suite is None:
        pytest.skip("this task offers no planning")
    sets = suite.episodes(2, suite.episode_seed)
    assert sets and all(len(e) == 2 for e in sets.values())
    again = suite.episodes(2, suite.episode_seed)
    for case, eps in sets.items():
        np.testing.assert_array_equal(eps.starts, again[case].starts)
    env = suite.make_env()
    eps = next(iter(sets.values()))
    obs = env.reset(eps.starts[0], eps.goals[0], eps.layouts[0])
    assert obs.shape == (1, *task.spec.obs_shape)
    assert env.goal_observation().shape == obs.shape
    actions = suite.random_actions(np.random.default_rng(0), 1, 3)
    assert actions.shape == (1, 3, suite.action_dim)
    obs, _ = env.step(actions[:, 0])
    assert obs.shape == (1, *task.spec.obs_shape) and math.isfinite(float(env.distance()[0]))
    cost = suite.oracle_cost(env, "final")(torch.zeros(1, 4, 5, suite.action_dim))
    assert cost.shape == (1, 4) and cost.dtype == torch.float64 and torch.isfinite(cost).all()
