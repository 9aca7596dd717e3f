"""Planners behind one interface (CEM, MPPI, gradient), deterministic ranking, Wilson intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.config import PlanConfig, protocol_config
from jepa_bench.planning import CEM, MPPI, GradientPlanner, clamp_norm, make_planner, wilson
from jepa_bench.planning.mppi import softmax_weights
from jepa_bench.planning.planners import rank
from jepa_bench.planning.stats import rate, summarise

TARGETS = torch.tensor([[6.0, -4.0], [-3.0, 5.0]])  # one reachable sum of 6 actions per problem
SMALL = PlanConfig(samples=128, iterations=15, topk=16, restarts=4, lr=0.3, temperature=0.3)


def quadratic(cand: torch.Tensor) -> torch.Tensor:
    """Cost (B, N) of candidates (B, N, H, A): squared distance of their sum to the target."""
    return ((cand.sum(2) - TARGETS[:, None]) ** 2).sum(-1).double()


def gens(n: int, seed: int = 0) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


@pytest.mark.parametrize("name", ["cem", "mppi", "gradient"])
def test_planners_minimise_a_quadratic_within_the_action_bound(name):
    """Every planner drives a reachable quadratic target close to zero with bounded actions."""
    planner = make_planner(SMALL, max_norm=1.8, name=name)
    res = planner.solve(quadratic, torch.zeros(2, 6, 2), gens(2))
    assert res.actions.shape == (2, 6, 2) and res.cost.dtype == torch.float64
    assert (res.cost < 0.5).all(), res.cost
    assert (res.actions.norm(dim=-1) <= 1.8 + 1e-5).all()
    assert torch.allclose(res.cost, quadratic(res.actions[:, None])[:, 0])


@pytest.mark.parametrize("name", ["cem", "mppi", "gradient"])
def test_a_problem_plans_the_same_in_any_batch(name):
    """A problem's plan depends only on its own generator, not on the problems batched with it."""
    planner = make_planner(SMALL, max_norm=1.8, name=name)
    both = planner.solve(quadratic, torch.zeros(2, 6, 2), gens(2, seed=7))

    def first_only(cand: torch.Tensor) -> torch.Tensor:
        return ((cand.sum(2) - TARGETS[:1, None]) ** 2).sum(-1).double()

    alone = planner.solve(first_only, torch.zeros(1, 6, 2), gens(1, seed=7))
    assert torch.equal(alone.actions[0], both.actions[0]) and alone.cost[0] == both.cost[0]


def test_planner_defaults_have_one_source():
    """make_planner reads every setting from PlanConfig; planners have no defaults of their own."""
    cfg = PlanConfig()
    cem = make_planner(cfg, 1.8, "cem")
    assert isinstance(cem, CEM)
    assert (cem.samples, cem.iterations, cem.topk, cem.init_std) == (
        cfg.samples, cfg.iterations, cfg.topk, cfg.init_std,
    )  # fmt: skip
    mppi = make_planner(cfg, 1.8, "mppi")
    assert isinstance(mppi, MPPI) and mppi.temperature == cfg.temperature
    grad = make_planner(cfg, 1.8, "gradient")
    assert isinstance(grad, GradientPlanner) and (grad.lr, grad.restarts) == (cfg.lr, cfg.restarts)
    assert make_planner(cfg, 1.8).name == cfg.planner
    with pytest.raises(TypeError):
        CEM()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="topk"):
        CEM(samples=4, iterations=1, topk=8, init_std=1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=30))
def test_rank_is_a_stable_sort_with_index_tie_break(values):
    """rank orders costs ascending and equal costs by index, whatever topk would do."""
    cost = torch.tensor([values], dtype=torch.float64)
    order = rank(cost)[0].tolist()
    assert sorted(order) == list(range(len(values)))
    keyed = [(values[i], i) for i in order]
    assert keyed == sorted(keyed)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1e3) | st.just(math.inf), min_size=2, max_size=20),
    st.floats(0.05, 5.0),
)
def test_mppi_weights_are_a_monotone_distribution(costs, temperature):
    """MPPI weights are >= 0, sum to 1, give inf costs 0 and never favour a costlier sample."""
    c = torch.tensor([costs], dtype=torch.float64)
    w = softmax_weights(c, temperature)[0]
    finite = torch.isfinite(c[0])
    assert (w >= 0).all() and (w[~finite] == 0).all()
    if finite.any():
        assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-9)
    order = torch.argsort(c[0][finite])
    assert (w[finite][order].diff() <= 1e-12).all()


def test_cem_returns_the_cheapest_candidate_seen():
    """CEM's answer costs no more than its warm start (which it always evaluates)."""
    init = torch.full((2, 6, 2), 0.5)
    start = quadratic(clamp_norm(init, 1.8)[:, None])[:, 0]
    res = make_planner(PlanConfig(samples=8, iterations=2, topk=2), 1.8, "cem").solve(
        quadratic, init, gens(2)
    )
    assert (res.cost <= start).all()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 500), data=st.data())
def test_wilson_interval_bounds_and_monotonicity(n, data):
    """0 <= lo <= k/n <= hi <= 1, and both bounds grow with the number of successes."""
    k = data.draw(st.integers(0, n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    if k < n:
        lo2, hi2 = wilson(k + 1, n)
        assert lo2 >= lo and hi2 >= hi
    assert hi - lo <= wilson(min(n, 1), 1)[1] + 1e-12  # never wider than one trial's


def test_wilson_known_values():
    """Textbook values: 0 of 200 and 5 of 10 at 95%; no trials give NaN."""
    assert wilson(0, 200) == pytest.approx((0.0, 0.01884), abs=1e-5)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert all(math.isnan(v) for v in wilson(0, 0))
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_rates_exclude_and_count_episodes_solved_at_start():
    """An episode already within the radius at t=0 is left out of the rate and counted."""
    d = np.array(
        [
            [1.0, 1.0, 1.0],  # solved at the start
            [5.0, 1.2, 3.0],  # reached at step 1, ends outside
            [5.0, 4.0, 3.0],  # never reached
        ]
    )
    r = rate(d, 1.41)
    assert (r["solved_at_start"], r["episodes"], r["successes"]) == (1, 2, 1)
    assert r["success"] == 0.5 and r["success_final"] == 0.0 and r["steps_to_success"] == 1
    s = summarise(d, 1.41, 4.6)
    assert s["success_loose"] == 1.0 and s["solved_at_start_loose"] == 1
    assert s["final_dist"] == pytest.approx(7.0 / 3)


def test_report_protocol_raises_episodes_and_seeds():
    """--protocol report lifts a run's plan settings to >= 100 episodes x 2 seeds; flags win."""
    small = PlanConfig(episodes=10, seeds=1, horizon=5)
    rep = protocol_config(small, "report")
    assert (rep.episodes, rep.seeds, rep.horizon) == (100, 2, 5)
    assert protocol_config(small, "run") == small
    assert protocol_config(small, "report", episodes=3).episodes == 3


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(1, 12), min_size=1, max_size=4), st.integers(1, 16))
def test_residual_offsets_interpolate_the_window_errors(lengths, horizon):
    """Offsets equal each known window's error at its length, are linear in between (0 at 0)
    and hold the longest window's error beyond it."""
    from jepa_bench.planning.residual import offsets

    errors = {h: torch.full((2, 3), float(h)) for h in lengths}  # error h at window length h
    out = offsets(errors, horizon, torch.zeros(2, 3))
    assert out.shape == (2, horizon, 3)
    longest = max(lengths)
    for j in range(1, horizon + 1):
        want = float(min(j, longest))  # errors grow linearly here, so interpolation is exact
        assert torch.allclose(out[:, j - 1], torch.full((2, 3), want))
    assert torch.equal(offsets({}, horizon, torch.zeros(2, 3)), torch.zeros(2, horizon, 3))
