"""Robot linear probes: ridge strength by episode-grouped cross-validation, R² bootstrap intervals
over validation episodes, and a fresh robot run that carries both and verifies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.cli import main
from jepa_bench.evaluate.probe import r2_and_mse
from jepa_bench.evaluate.ridge_cv import (
    ALPHA_GRID,
    CV_FOLDS,
    EpisodeBootstrap,
    episode_folds,
    fit_ridge_cv,
    window_groups,
)
from jepa_bench.record.metrics import is_declared, role_of
from tests.robot_files import write_seed_layout


def linear_data(episodes: int, signal: float, noise: float, seed: int = 0, per: int = 4):
    """``per`` windows of 3 steps per episode: 24 random features, 2 targets = signal * a linear
    map of them + noise. Returns (z, y, groups)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(episodes * per, 3, 24))
    y = signal * z @ rng.normal(size=(24, 2)) / np.sqrt(24) + noise * rng.normal(
        size=(*z.shape[:2], 2)
    )
    groups = np.repeat(np.arange(episodes), per)
    return torch.tensor(z, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), groups


def scored_split(episodes: int, seed: int = 0, per: int = 5):
    """Targets with a per-episode offset and predictions with noise: (pred, y, groups)."""
    rng = np.random.default_rng(seed)
    offset = np.repeat(rng.normal(size=(episodes, 1, 2)), per, axis=0)
    y = rng.normal(size=(episodes * per, 3, 2)) + offset
    return y + 0.6 * rng.normal(size=y.shape), y, np.repeat(np.arange(episodes), per)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_picks_a_large_alpha_on_noisy_low_signal_data(seed: int) -> None:
    """Targets that are mostly noise get the strongest ridge of the grid."""
    z, y, g = linear_data(12, signal=0.05, noise=1.0, seed=seed)
    fit = fit_ridge_cv(z, y, g, {"a": 2})
    assert fit.alpha["a"] >= 1.0 and fit.folds == CV_FOLDS and fit.groups == 12
    assert fit.cv_r2["a"][-1] > fit.cv_r2["a"][0]  # strong ridge beats a weak one held-out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_picks_a_small_alpha_on_clean_linear_data(seed: int) -> None:
    """Nearly noiseless linear targets get the weakest ridge, and the head recovers them."""
    z, y, g = linear_data(12, signal=1.0, noise=1e-3, seed=seed)
    fit = fit_ridge_cv(z, y, g, {"a": 2})
    assert fit.alpha["a"] == min(ALPHA_GRID)
    r2, _ = r2_and_mse(fit.head(z).detach().numpy(), y.numpy())
    assert r2 > 0.999


def test_each_target_gets_its_own_alpha() -> None:
    """A clean and a noisy target fitted together are regularised separately."""
    z, clean, g = linear_data(12, signal=1.0, noise=1e-3)
    _, noisy, _ = linear_data(12, signal=0.05, noise=1.0, seed=5)
    fit = fit_ridge_cv(z, torch.cat([clean, noisy], -1), g, {"clean": 2, "noisy": 2})
    assert fit.alpha["clean"] == min(ALPHA_GRID) and fit.alpha["noisy"] >= 1.0


def test_an_episode_memoriser_gets_no_credit() -> None:
    """Features that only identify the episode cannot predict a held-out episode: grouped CV
    regularises them away, while window-level folds (episodes split) would reward them."""
    rng = np.random.default_rng(0)
    episodes, per = 10, 6
    g = np.repeat(np.arange(episodes), per)
    z = np.zeros((episodes * per, 3, episodes))
    z[np.arange(len(g)), :, g] = 1.0  # one indicator per episode
    z += 0.01 * rng.normal(size=z.shape)
    y = np.repeat(rng.normal(size=(episodes, 1, 1)), per, axis=0) + 0.01 * rng.normal(
        size=(len(g), 3, 1)
    )
    zt, yt = torch.tensor(z).float(), torch.tensor(y).float()
    grouped = fit_ridge_cv(zt, yt, g, {"m": 1})
    leaky = fit_ridge_cv(zt, yt, np.arange(len(g)), {"m": 1})
    assert max(grouped.cv_r2["m"]) < 0.0 < 0.9 < max(leaky.cv_r2["m"])
    assert grouped.alpha["m"] == max(ALPHA_GRID) > leaky.alpha["m"]


def test_ties_go_to_the_larger_alpha_and_one_episode_is_not_cross_validated() -> None:
    """A constant target scores alike at every alpha (the largest wins); one episode: no CV."""
    z, _, g = linear_data(6, 1.0, 0.0)
    fit = fit_ridge_cv(z, torch.ones(*z.shape[:2], 1), g, {"c": 1})
    assert fit.alpha["c"] == max(ALPHA_GRID)
    single = fit_ridge_cv(z, torch.ones(*z.shape[:2], 1), np.zeros(len(z)), {"c": 1})
    assert single.folds == 0 and single.cv_r2 == {} and single.alpha["c"] == min(ALPHA_GRID)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.integers(0, 30), min_size=1, max_size=80),
    k=st.integers(1, 8),
)
def test_folds_never_split_an_episode(ids: list[int], k: int) -> None:
    """Every window of an episode lands in one fold; there are min(k, episodes) non-empty folds."""
    groups = np.asarray(ids)
    fold = episode_folds(groups, k)
    for e in np.unique(groups):
        assert len(np.unique(fold[groups == e])) == 1
    assert set(fold.tolist()) == set(range(min(k, len(np.unique(groups)))))
    perm = np.random.default_rng(len(ids)).permutation(len(ids))
    assert np.array_equal(episode_folds(groups[perm], k), fold[perm])  # order does not matter


def test_results_are_deterministic_and_ignore_window_order() -> None:
    """Two fits give identical heads; shuffling the windows changes neither alpha nor weights."""
    z, y, g = linear_data(12, signal=0.5, noise=0.5)
    a, b = fit_ridge_cv(z, y, g, {"a": 2}), fit_ridge_cv(z, y, g, {"a": 2})
    assert torch.equal(a.head.w, b.head.w) and a.alpha == b.alpha and a.cv_r2 == b.cv_r2
    perm = np.random.default_rng(1).permutation(len(z))
    c = fit_ridge_cv(z[perm], y[perm], g[perm], {"a": 2})
    assert c.alpha == a.alpha and torch.allclose(c.head.w, a.head.w, atol=1e-5)
    pred, yy, gg = scored_split(20)
    first = EpisodeBootstrap(gg).r2_interval(pred, yy, r2_and_mse(pred, yy)[0])
    assert EpisodeBootstrap(gg).r2_interval(pred, yy, r2_and_mse(pred, yy)[0]) == first


@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_interval_contains_the_point_estimate(seed: int) -> None:
    """The raw 2.5-97.5% quantiles of the resampled R² straddle the split's R²."""
    pred, y, g = scored_split(16, seed)
    boot = EpisodeBootstrap(g)
    r2, _ = r2_and_mse(pred, y)
    lo, hi = np.quantile(boot.r2_samples(pred, y), [0.025, 0.975])
    assert lo < r2 < hi and boot.r2_interval(pred, y, r2) == (lo, hi)


@settings(max_examples=40, deadline=None)
@given(episodes=st.integers(1, 12), per=st.integers(1, 4), seed=st.integers(0, 999))
def test_bootstrap_interval_is_ordered(episodes: int, per: int, seed: int) -> None:
    """lo <= R² <= hi for any split; one episode gives the point estimate itself."""
    pred, y, g = scored_split(episodes, seed, per)
    r2, _ = r2_and_mse(pred, y)
    lo, hi = EpisodeBootstrap(g, resamples=200).r2_interval(pred, y, r2)
    assert lo <= r2 <= hi
    if episodes == 1:
        assert hi - lo == pytest.approx(0.0, abs=1e-9)


def test_bootstrap_interval_narrows_with_more_episodes() -> None:
    """Sixteen times the episodes give an interval at least twice as narrow."""
    widths = []
    for episodes in (8, 128):
        pred, y, g = scored_split(episodes)
        lo, hi = EpisodeBootstrap(g).r2_interval(pred, y, r2_and_mse(pred, y)[0])
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_groups_come_from_the_window_sets_episode_array() -> None:
    """A window set's ``episode`` array groups its windows; without one, each is its own."""

    class WithEpisodes:
        episode = np.array([3, 3, 5, 5, 5])

    groups, kind = window_groups(WithEpisodes(), 4)
    assert kind == "episodes" and groups.tolist() == [3, 3, 5, 5]
    groups, kind = window_groups(object(), 3)
    assert kind == "windows" and groups.tolist() == [0, 1, 2]


def test_interval_metrics_are_declared_details() -> None:
    """The bounds are declared, higher-is-better detail metrics (not headline columns)."""
    for name in ("probe/action/r2_lo", "probe/val/state/r2_hi"):
        assert is_declared(name) and role_of(name) == "detail"


def test_a_fresh_robot_run_carries_intervals_and_verifies(tmp_path: Path) -> None:
    """A koch_pick_place smoke run records r2_lo <= r2 <= r2_hi per target, the chosen alphas
    and the episode groups, and `verify` recomputes every metric of it."""
    path = write_seed_layout(tmp_path / "hub", [44, 57, 38, 61, 50, 47, 52, 40])
    args = ["run", "--model", "convnext_mlp_smoke", "--task", "koch_pick_place",
            "--task-arg", f"data={path}", "--task-arg", "train_split=0.6", "--budget",
            "smoke", "-q", "--out", str(tmp_path / "runs"),
            "--data-dir", str(tmp_path / "cache")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    rec = json.loads((run_dir / "result.json").read_text())
    for part in ("metrics", "untrained_metrics"):
        m = {k: v["value"] for k, v in rec[part].items()}
        for target in ("action", "proprio"):  # state has a constant coordinate here: no R²
            stem = f"probe/{target}"
            assert m[f"{stem}/r2_lo"] <= m[f"{stem}/r2"] <= m[f"{stem}/r2_hi"]
            assert m[f"{stem}/r2_lo"] < m[f"{stem}/r2_hi"]  # three validation episodes
    for side in ("trained", "untrained"):
        probe = rec["details"][side]["probes"]["robot"]
        assert probe["ridge"]["groups"] == "episodes" and probe["ridge"]["folds"] == CV_FOLDS
        assert set(probe["ridge"]["alpha"]) == {"action", "proprio", "state"}
        assert set(probe["ridge"]["alpha"].values()) <= set(ALPHA_GRID)
        assert probe["splits"]["val"]["bootstrap"]["episodes"] == 3
    res = CliRunner().invoke(main, ["verify", str(run_dir), "-q"])
    assert res.exit_code == 0 and "PASSED" in res.output, res.output
