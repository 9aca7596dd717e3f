"""SIGReg: formula, split-batch (distributed) design, determinism and statistical behaviour."""

from __future__ import annotations

import statistics

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.ecf import ecf_batch_sums
from jepa_bench.regularizers.sigreg import (
    SIGReg,
    block_sizes,
    ecf_sums,
    epps_pulley,
    knots_and_weights,
    random_directions,
    sigreg_statistic,
)

B, D = 128, 16


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _direct(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The statistic written out as in the reference description (means over the batch)."""
    t = torch.linspace(0, 3, 17)
    dt = 3 / 16
    w = torch.full((17,), 2 * dt)
    w[0] = w[-1] = dt
    phi = torch.exp(-(t**2) / 2)
    x = (z @ a).unsqueeze(-1) * t  # (T, B, M, K)
    err = (x.cos().mean(1) - phi) ** 2 + x.sin().mean(1) ** 2
    return ((err @ (w * phi)) * z.shape[1]).mean()


def _stat(z: torch.Tensor, seed: int, num_proj: int = 1024) -> float:
    a = random_directions(z.shape[-1], num_proj, _gen(seed))
    return float(sigreg_statistic(z.unsqueeze(0), a))


@pytest.mark.parametrize("scale", [0.1, 1.0, 30.0])
def test_matches_reference_formula_and_its_gradient(scale: float) -> None:
    """The recurrence-based sums give the batch-mean formula of the reference (autograd through
    cos and sin), value and gradient, for small and large projections."""
    z = (torch.randn(3, 40, 8, generator=_gen(0)) * scale + 0.3).requires_grad_()
    a = random_directions(8, 64, _gen(1))
    ours, ref = sigreg_statistic(z, a), _direct(z, a)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    (g_ours,), (g_ref,) = torch.autograd.grad(ours, z), torch.autograd.grad(ref, z)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-3, atol=1e-5 * float(g_ref.abs().max()))


def test_gradcheck_float64() -> None:
    """The hand-written backward of the ECF sums passes torch's finite-difference gradcheck."""
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: ecf_batch_sums(v, 0.3, 6), (x,))


def test_directions_have_unit_norm() -> None:
    """Projection columns are unit vectors."""
    a = random_directions(12, 100, _gen(0))
    torch.testing.assert_close(a.norm(dim=0), torch.ones(100))


@pytest.mark.parametrize("split", [1, 17, 32])
def test_split_batch_sums_equal_whole_batch(split: int) -> None:
    """Adding the ECF sums of two batch parts (a simulated all-reduce) gives the whole-batch
    statistic and the whole-batch gradient for every sample."""
    z = torch.randn(2, 64, D, generator=_gen(split)).requires_grad_()
    a = random_directions(D, 256, _gen(7))
    whole = sigreg_statistic(z, a)
    (g_whole,) = torch.autograd.grad(whole, z)

    _, w, phi = knots_and_weights()
    part1 = ecf_sums(z[:, :split], a)
    part2 = ecf_sums(z[:, split:], a)
    split_stat = epps_pulley(part1 + part2, w, phi).mean()
    (g_split,) = torch.autograd.grad(split_stat, z)
    torch.testing.assert_close(split_stat, whole, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_split, g_whole, rtol=1e-4, atol=1e-7)


def test_reduce_hook_sees_packed_sums_and_global_count() -> None:
    """A reduce hook adding another rank's packed sums makes the local call compute the
    global statistic (global batch size included), with the global gradient."""
    z = torch.randn(1, 48, D, generator=_gen(3)).requires_grad_()
    a = random_directions(D, 128, _gen(4))
    other = ecf_sums(z[:, 20:], a).pack()
    local = sigreg_statistic(z[:, :20], a, reduce=lambda flat: flat + other)
    whole = sigreg_statistic(z, a)
    torch.testing.assert_close(local, whole, rtol=1e-5, atol=1e-6)
    g_local, g_whole = (torch.autograd.grad(v, z)[0] for v in (local, whole))
    torch.testing.assert_close(g_local, g_whole, rtol=1e-4, atol=1e-7)


def test_deterministic_given_seed_or_generator() -> None:
    """Same seed (or an equally seeded generator) gives the same sequence of values; fresh
    directions are drawn on every call; another seed gives other values."""
    lat = TrainLatents(torch.zeros(1), torch.zeros(1), torch.randn(B, 2, D, generator=_gen(0)) * 2)
    a, b = SIGReg(seed=5), SIGReg(generator=_gen(5))
    va = [float(a.terms(lat, 0.0)["epps_pulley"]) for _ in range(3)]
    vb = [float(b.terms(lat, 0.0)["epps_pulley"]) for _ in range(3)]
    assert va == vb
    assert len(set(va)) == 3
    assert float(SIGReg(seed=6).terms(lat, 0.0)["epps_pulley"]) != va[0]


def test_default_seed_follows_torch_seed() -> None:
    """Without a seed the generator is seeded from torch's RNG: reproducible given the run seed."""
    z = torch.randn(1, B, D, generator=_gen(0))
    torch.manual_seed(11)
    first = float(SIGReg().statistic(z))
    torch.manual_seed(11)
    assert float(SIGReg().statistic(z)) == first


def test_generator_state_survives_state_dict() -> None:
    """Loading a state dict restores the generator, so a resumed run draws the same directions."""
    z = torch.randn(1, B, D, generator=_gen(0))
    a = SIGReg(seed=1)
    a.statistic(z)
    state = a.state_dict()
    expected = float(a.statistic(z))
    b = SIGReg(seed=99)
    b.load_state_dict(state)
    assert float(b.statistic(z)) == expected


def test_weight_scales_the_term() -> None:
    """The term equals weight times the unweighted statistic (default weight 0.09)."""
    emb = torch.randn(B, 1, D, generator=_gen(2))
    lat = TrainLatents(torch.zeros(1), torch.zeros(1), emb)
    raw = float(SIGReg(seed=0).statistic(emb.transpose(0, 1)))
    assert float(SIGReg(seed=0).terms(lat, 0.0)["epps_pulley"]) == pytest.approx(0.09 * raw)
    assert float(SIGReg(0.5, seed=0).terms(lat, 0.0)["epps_pulley"]) == pytest.approx(0.5 * raw)


def test_temporal_term_sees_only_what_changes_within_a_window() -> None:
    """temporal=w adds a centred-in-time test: latents constant within each window (a layout
    that varies across windows) pass the plain test but fail the temporal one; latents that
    move within windows pass both; temporal=0 adds nothing."""
    g = _gen(3)
    static = torch.randn(B, 1, D, generator=g).expand(B, 8, D)  # (B, T, D), constant in time
    moving = torch.randn(B, 8, D, generator=g)
    plain = SIGReg(seed=0).terms(TrainLatents(torch.zeros(1), torch.zeros(1), static), 0.0)
    assert set(plain) == {"epps_pulley"}
    terms = {
        name: SIGReg(seed=0, temporal=1.0).terms(
            TrainLatents(torch.zeros(1), torch.zeros(1), z), 0.0
        )
        for name, z in (("static", static), ("moving", moving))
    }
    ratio = float(terms["static"]["epps_pulley"]) / float(terms["moving"]["epps_pulley"])
    assert 0.5 < ratio < 2  # both Gaussian across the batch: the plain test cannot tell them apart
    assert float(terms["static"]["epps_pulley_temporal"]) > 10 * float(
        terms["moving"]["epps_pulley_temporal"]
    )
    with pytest.raises(ValueError, match="temporal"):
        SIGReg(temporal=-1.0)


def test_pool_time_fails_latents_constant_within_windows() -> None:
    """pool_time tests all B x T frames as one sample: per-window constants (B distinct values
    repeated T times) fail it, latents that move within windows pass; per time step the two
    look alike."""
    g = _gen(4)
    static = torch.randn(B, 1, D, generator=g).expand(B, 8, D)  # (B, T, D)
    moving = torch.randn(B, 8, D, generator=g)

    def stat(z: torch.Tensor, pool: bool) -> float:
        lat = TrainLatents(torch.zeros(1), torch.zeros(1), z)
        return float(SIGReg(seed=0, pool_time=pool).terms(lat, 0.0)["epps_pulley"])

    assert 0.5 < stat(static, False) / stat(moving, False) < 2
    assert stat(static, True) > 4 * stat(moving, True)
    assert SIGReg(seed=0, pool_time=True).config()["pool_time"] is True
    assert "pool_time" not in SIGReg(seed=0).config()  # records made before it are unchanged
    with pytest.raises(ValueError, match="pool_time"):
        SIGReg(pool_time=2)  # type: ignore[arg-type]


@given(dim=st.integers(1, 300), data=st.data())
def test_block_sizes_cut_the_latent_evenly(dim: int, data: st.DataObject) -> None:
    """Blocks cover the latent exactly, differ by at most one dimension, larger ones first."""
    blocks = data.draw(st.integers(1, dim))
    sizes = block_sizes(dim, blocks)
    assert sum(sizes) == dim and len(sizes) == blocks
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@given(dim=st.integers(2, 64), num=st.integers(1, 40), data=st.data())
def test_block_directions_stay_inside_their_block(dim: int, num: int, data: st.DataObject) -> None:
    """Direction j is a unit vector with no component outside block j % blocks."""
    blocks = data.draw(st.integers(1, dim))
    a = random_directions(dim, num, _gen(dim * num), blocks)
    assert torch.allclose(a.norm(dim=0), torch.ones(num), atol=1e-5)
    starts = [0]
    for size in block_sizes(dim, blocks):
        starts.append(starts[-1] + size)
    for j in range(num):
        b = j % blocks
        outside = torch.cat([a[: starts[b], j], a[starts[b + 1] :, j]])
        assert torch.count_nonzero(outside) == 0


def test_blocks_fail_a_constant_block_the_whole_latent_test_lets_pass() -> None:
    """Half the latent constant and the other half inflated by sqrt(2): the one test over the
    whole latent sees nearly unit variance along its directions, the per-block test fails the
    constant half. On Gaussian latents both read alike."""
    z = torch.randn(1, 512, 64, generator=_gen(7))  # (T, B, D)
    half = z.clone()
    half[..., :32] = 0.0
    half[..., 32:] *= 2**0.5

    def stat(x: torch.Tensor, blocks: int) -> float:
        return float(SIGReg(seed=0, blocks=blocks).statistic(x))

    assert 0.5 < stat(z, 2) / stat(z, 1) < 2
    assert stat(half, 2) > 5 * stat(half, 1)
    assert SIGReg(seed=0, blocks=2).config()["blocks"] == 2
    assert "blocks" not in SIGReg(seed=0).config()  # records made before it are unchanged
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="blocks"):
            SIGReg(blocks=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latent size"):
        SIGReg(seed=0, blocks=9).statistic(torch.zeros(1, 4, 8))


def test_bad_shapes_are_rejected() -> None:
    """A 2-D embedding or a dimension mismatch raises ValueError naming the shape."""
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        SIGReg(seed=0).terms(TrainLatents(torch.zeros(1), torch.zeros(1), torch.zeros(4, 8)), 0.0)
    with pytest.raises(ValueError, match="D=8"):
        sigreg_statistic(torch.zeros(1, 4, 8), random_directions(6, 3))
    with pytest.raises(ValueError, match="num_proj"):
        SIGReg(num_proj=0)


def _normal_spread(n_seeds: int = 16) -> tuple[float, float]:
    vals = [_stat(torch.randn(B, D, generator=_gen(100 + s)), s) for s in range(n_seeds)]
    return statistics.mean(vals), statistics.stdev(vals)


def test_small_for_normal_large_for_collapse_shift_scale_low_rank() -> None:
    """Every non-Gaussian alternative exceeds the standard-normal mean + 6 std (spread measured
    over 16 data and direction seeds)."""
    mean, std = _normal_spread()
    threshold = mean + 6 * std
    z = torch.randn(B, D, generator=_gen(1))
    basis, _ = torch.linalg.qr(torch.randn(D, 2, generator=_gen(2)))  # (D, 2) orthonormal
    alternatives = {
        "collapsed": torch.full((B, D), 0.3),
        "shifted": z + 0.5,
        "scaled_up": 2.0 * z,
        "scaled_down": 0.5 * z,
        "low_rank": torch.randn(B, 2, generator=_gen(3)) @ basis.T,
    }
    for name, alt in alternatives.items():
        assert _stat(alt, 999) > threshold, name


def test_expected_value_invariant_to_rotation() -> None:
    """Averaged over direction draws, SIGReg of z and of z @ R (R orthogonal) agree within
    5 standard errors, although a single draw of directions tells them apart."""
    scale = torch.linspace(0.3, 2.0, D)
    z = torch.randn(B, D, generator=_gen(0)) * scale  # anisotropic, non-Gaussian as a whole
    rot, _ = torch.linalg.qr(torch.randn(D, D, generator=_gen(1)))
    n = 24
    plain = [_stat(z, s, num_proj=256) for s in range(n)]
    rotated = [_stat(z @ rot, 1000 + s, num_proj=256) for s in range(n)]
    diff = abs(statistics.mean(plain) - statistics.mean(rotated))
    stderr = ((statistics.variance(plain) + statistics.variance(rotated)) / n) ** 0.5
    assert diff < 5 * stderr
    assert _stat(z, 0, num_proj=256) != pytest.approx(_stat(z @ rot, 0, num_proj=256), rel=1e-3)


def test_bfloat16_matches_float32() -> None:
    """bf16 input (computed in float32 inside) gives the float32 value within a tenth of the
    statistic's own sampling std over seeds: |stat_bf16 - stat_fp32| < 0.1 * std_normal."""
    _, std = _normal_spread(8)
    for seed in range(3):
        z = torch.randn(1, B, D, generator=_gen(seed))
        for data in (z, z + 0.5):
            a = random_directions(D, 1024, _gen(seed))
            s32 = sigreg_statistic(data, a)
            s16 = sigreg_statistic(data.bfloat16(), a)
            assert s16.dtype == torch.float32
            assert abs(float(s16) - float(s32)) < 0.1 * std


def test_gradcheck_statistic_float64() -> None:
    """The whole statistic (sums, reduce hook, Epps-Pulley) passes gradcheck in float64."""
    z = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    a = random_directions(3, 5, _gen(0)).double()
    assert torch.autograd.gradcheck(lambda v: sigreg_statistic(v, a, reduce=lambda f: f * 1), (z,))
