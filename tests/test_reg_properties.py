"""Property-based tests of every loss term of every registered regulariser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.registry import REGULARIZERS
from jepa_bench.regularizers.compose import build_objective
from jepa_bench.regularizers.vicreg import covariance_term, variance_term

NAMES = REGULARIZERS.names()
FAST = settings(max_examples=30, deadline=None)
VALUES = st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def windows(draw: st.DrawFn) -> np.ndarray:
    """Latent windows (B, T, D): free finite values, or a fully collapsed (constant) batch."""
    b, t, d = draw(st.integers(2, 16)), draw(st.integers(1, 3)), draw(st.integers(1, 10))
    if draw(st.booleans()):
        row = draw(arrays(np.float32, (1, t, d), elements=VALUES))
        return np.repeat(row, b, axis=0)
    return draw(arrays(np.float32, (b, t, d), elements=VALUES))


def _lat(z: np.ndarray, grad: bool = False) -> TrainLatents:
    """pred = z, target = z shifted by one time step and negated, emb = z."""
    pred = torch.from_numpy(z).requires_grad_(grad)
    target = -torch.roll(torch.from_numpy(z), 1, dims=1)
    return TrainLatents(pred=pred, target=target, emb=pred)


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(z=windows())
def test_terms_finite_nonnegative_with_finite_gradients(name: str, z: np.ndarray) -> None:
    """Every term is finite and >= 0 on any finite input (collapsed batches included), and the
    gradient of the total with respect to the latents is finite."""
    lat = _lat(z, grad=True)
    out = build_objective(name, seed=0)(lat, progress=0.5)
    for key, value in out.items():
        assert torch.isfinite(value), key
        assert float(value.detach()) >= 0.0, key
    (grad,) = torch.autograd.grad(out["loss"], lat.pred)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(z=windows(), data=st.data())
def test_terms_invariant_to_batch_permutation(
    name: str, z: np.ndarray, data: st.DataObject
) -> None:
    """Permuting the batch (same projections for SIGReg) leaves every term unchanged."""
    perm = np.array(data.draw(st.permutations(range(z.shape[0]))))
    a = build_objective(name, seed=0)(_lat(z))
    b = build_objective(name, seed=0)(_lat(z[perm]))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-3 * (1 + abs(float(a[key]))))


@FAST
@given(
    x=arrays(np.float64, st.tuples(st.integers(2, 24), st.integers(1, 8)), elements=VALUES),
    scale=arrays(np.float64, 8, elements=st.floats(1.01, 10.0)),
)
def test_variance_term_zero_when_every_std_at_least_one(x: np.ndarray, scale: np.ndarray) -> None:
    """Columns standardised and scaled by >= 1.01 (std >= 1) give a variance term of exactly 0."""
    n, d = x.shape
    std = x.std(axis=0, ddof=1)
    alternating = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]  # std > 1 for any n >= 2
    cols = np.where(std > 1e-3, (x - x.mean(axis=0)) / np.maximum(std, 1e-3), alternating)
    z = torch.from_numpy(cols * scale[:d]).float()
    assert (z.std(dim=0) >= 1.0).all()
    assert float(variance_term(z)) == 0.0


def _hadamard(k: int) -> np.ndarray:
    h = np.ones((1, 1))
    for _ in range(k):
        h = np.block([[h, h], [h, -h]])
    return h


@FAST
@given(
    k=st.integers(2, 6),
    data=st.data(),
)
def test_covariance_term_zero_for_orthogonal_centred_columns(k: int, data: st.DataObject) -> None:
    """Hadamard columns (orthogonal, centred, exactly representable) with integer scales and
    offsets and shuffled rows have a covariance term of exactly 0."""
    n = 2**k
    d = data.draw(st.integers(1, n - 1))
    scales = np.array(data.draw(st.lists(st.integers(1, 8), min_size=d, max_size=d)))
    offsets = np.array(data.draw(st.lists(st.integers(-5, 5), min_size=d, max_size=d)))
    perm = np.array(data.draw(st.permutations(range(n))))
    z = _hadamard(k)[perm][:, 1 : d + 1] * scales + offsets
    assert float(covariance_term(torch.from_numpy(z).float())) == 0.0


@FAST
@given(x=arrays(np.float32, st.tuples(st.integers(3, 24), st.integers(2, 8)), elements=VALUES))
def test_covariance_term_positive_for_duplicated_column(x: np.ndarray) -> None:
    """A column repeated (perfectly correlated, nonzero variance) makes the covariance term > 0."""
    x = x.astype(np.float64)
    x[:, 1] = x[:, 0]
    x[0, 0] = x[0, 1] = x[1, 0] + 1.0  # ensure the shared column is not constant
    assert float(covariance_term(torch.from_numpy(x).float())) > 0.0


@pytest.mark.parametrize("name", NAMES)
def test_constant_batch_gradients_finite(name: str) -> None:
    """A fully collapsed batch (every latent the same vector) yields finite terms and gradients."""
    z = np.full((32, 2, 16), 0.7, dtype=np.float32)
    lat = _lat(z, grad=True)
    out = build_objective(name, seed=0)(lat)
    (grad,) = torch.autograd.grad(out["loss"], lat.pred)
    assert all(torch.isfinite(v) for v in out.values())
    assert torch.isfinite(grad).all()
