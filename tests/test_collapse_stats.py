"""Collapse statistics and the collapse rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.evaluate.collapse import collapse_stats, effective_rank, is_collapsed


def _gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


@pytest.mark.parametrize("value", [0.0, 3.5])
def test_constant_input_is_collapsed(value: float) -> None:
    """Every latent equal (zero or not) is collapsed by the 'constant' condition."""
    stats = collapse_stats(torch.full((100, 16), value))
    collapsed, why = is_collapsed(stats)
    assert collapsed and why.startswith("constant")
    assert stats["std_mean"] == 0.0 and stats["effective_rank"] == 0.0


def test_isotropic_gaussian_is_not_collapsed_and_has_rank_close_to_d() -> None:
    """N(0, I) with D=64, N=2000 is not collapsed; its effective rank exceeds D*exp(-D/N).

    The sample spectrum (Marchenko-Pastur) has relative variance D/N, which lowers the entropy
    by about D/(2N); the bound allows twice that.
    """
    n, d = 2000, 64
    stats = collapse_stats(_gaussian(n, d))
    assert not is_collapsed(stats)[0]
    assert d * math.exp(-d / n) < stats["effective_rank"] <= d
    assert stats["top_pc_share"] < 2 * (1 + math.sqrt(d / n)) ** 2 / d  # MP edge, doubled


def test_rank_one_data_has_effective_rank_one() -> None:
    """Latents on one line (plus an offset) have effective rank ~1 and top share ~1."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((500, 1)) @ rng.standard_normal((1, 32)) + 2.0
    stats = collapse_stats(z)
    assert stats["effective_rank"] == pytest.approx(1.0, abs=1e-6)
    assert stats["top_pc_share"] == pytest.approx(1.0, abs=1e-9)
    collapsed, why = is_collapsed(stats)
    assert collapsed and why.startswith("dominant direction")


def test_uneven_two_dimensional_spread_is_low_effective_rank() -> None:
    """Variance split 85/15 over two directions: no direction above 90%, effective rank < 2."""
    rng = np.random.default_rng(2)
    basis, _ = np.linalg.qr(rng.standard_normal((16, 2)))
    coords = rng.standard_normal((4000, 2)) * np.sqrt([0.85, 0.15])
    stats = collapse_stats(coords @ basis.T)
    assert stats["top_pc_share"] < 0.9
    collapsed, why = is_collapsed(stats)
    assert collapsed and why.startswith("low effective rank")


def test_small_variation_around_large_offset_is_constant() -> None:
    """Spread below 1% of the latents' magnitude counts as collapsed to a constant."""
    z = _gaussian(300, 8) * 0.05 + 10.0
    assert is_collapsed(collapse_stats(z))[1].startswith("constant")
    assert not is_collapsed(collapse_stats(_gaussian(300, 8) * 0.05))[0]


def test_spectrum_sorted_and_sums_to_total_variance() -> None:
    """Eigenvalues come largest first and sum to the sum of per-dimension variances."""
    z = _gaussian(200, 12) * np.linspace(0.1, 3.0, 12)
    stats = collapse_stats(z)
    eig = np.array(stats["eigenvalues"])
    assert (np.diff(eig) <= 0).all() and len(eig) == 12
    assert eig.sum() == pytest.approx(z.var(axis=0, ddof=1).sum(), rel=1e-9)
    assert stats["std_min"] == pytest.approx(z.std(axis=0, ddof=1).min(), rel=1e-9)


def test_accepts_tensors_and_flattens_leading_dims() -> None:
    """A (B, T, D) bf16 tensor gives the statistics of its (B*T, D) float values."""
    z = torch.randn(10, 5, 8).bfloat16()
    a = collapse_stats(z)
    b = collapse_stats(z.float().reshape(50, 8).numpy())
    assert a == b


@pytest.mark.parametrize(
    ("z", "match"),
    [
        (np.array([1.0, np.nan, 2.0, 3.0]).reshape(2, 2), "NaN"),
        (np.zeros(5), "shape"),
        (np.zeros((0, 4)), "N = 0"),
    ],
)
def test_bad_input_raises(z: np.ndarray, match: str) -> None:
    """NaN values, a 1-D array or no vectors raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        collapse_stats(z)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 40),
    d=st.integers(2, 10),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
)
def test_effective_rank_bounds_and_invariances(n: int, d: int, seed: int, scale: float) -> None:
    """1 <= effective rank <= min(N-1, D); it and the top share ignore scale and rotation."""
    z = _gaussian(n, d, seed) * np.linspace(0.2, 1.0, d)
    rot, _ = np.linalg.qr(np.random.default_rng(seed + 1).standard_normal((d, d)))
    base, moved = collapse_stats(z), collapse_stats(scale * z @ rot)
    assert 1.0 - 1e-9 <= base["effective_rank"] <= min(n - 1, d) + 1e-6
    assert moved["effective_rank"] == pytest.approx(base["effective_rank"], rel=1e-6)
    assert moved["top_pc_share"] == pytest.approx(base["top_pc_share"], rel=1e-6)


def test_effective_rank_of_uniform_spectrum_is_its_length() -> None:
    """k equal eigenvalues (and zeros) give effective rank exactly k."""
    assert effective_rank(np.array([2.0, 2.0, 2.0, 0.0])) == pytest.approx(3.0)
    assert effective_rank(np.zeros(4)) == 0.0
