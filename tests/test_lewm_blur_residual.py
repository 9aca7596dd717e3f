"""LeWM's input blur (``blur``) and residual predictor (``residual``)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.models.lewm import LEWM_SMOKE as lewm_smoke
from jepa_bench.models.lewm.adapters import ImageAdapter, blur_frames, gaussian_kernel
from tests.test_lewm import GROUPED


def blob(x: float, y: float, size: int = 65, std: float = 1.3) -> torch.Tensor:
    """A wall_door-style agent blob (1, 1, size, size) centred at column x, row y."""
    r = torch.arange(size, dtype=torch.float32)
    return torch.exp(-((r[None] - x) ** 2 + (r[:, None] - y) ** 2) / (2 * std**2))[None, None]


def centroid(img: torch.Tensor) -> tuple[float, float]:
    r = torch.arange(img.shape[-1], dtype=torch.float32)
    m = img[0, 0]
    return float((m.sum(0) * r).sum() / m.sum()), float((m.sum(1) * r).sum() / m.sum())


@settings(max_examples=30, deadline=None)
@given(sigma=st.floats(0.3, 6.0), value=st.floats(0.0, 1.0))
def test_kernel_sums_to_one_and_keeps_constant_frames(sigma: float, value: float) -> None:
    k = gaussian_kernel(sigma)
    assert k.numel() % 2 == 1 and abs(float(k.sum()) - 1.0) < 1e-5
    torch.testing.assert_close(k, k.flip(0))  # symmetric: no shift
    frame = torch.full((2, 3, 20, 20), value)
    torch.testing.assert_close(blur_frames(frame, k), frame)  # replicated edges: no dark rim


@settings(max_examples=20, deadline=None)
@given(x=st.floats(20.0, 44.0), y=st.floats(20.0, 44.0), sigma=st.floats(0.5, 4.0))
def test_blur_keeps_a_blobs_mass_and_centre_and_widens_it(x: float, y: float, sigma: float) -> None:
    img = blob(x, y)
    out = blur_frames(img, gaussian_kernel(sigma))
    assert abs(float(out.sum()) - float(img.sum())) < 1e-3 * float(img.sum())
    cx, cy = centroid(out)
    assert abs(cx - x) < 1e-2 and abs(cy - y) < 1e-2
    # Two Gaussians convolve to one of variance 1.3^2 + sigma^2: the peak falls by that ratio.
    want = 1.3**2 / (1.3**2 + sigma**2)
    assert abs(float(out.max()) / float(img.max()) - want) < 0.05


def test_blur_makes_a_one_pixel_move_a_small_change_of_the_input() -> None:
    """The point of the option: the blob's move changes a patch's content less, relative to it."""

    def change(sigma: float) -> float:
        a, b = blob(30.0, 30.0), blob(31.0, 30.0)
        if sigma:
            k = gaussian_kernel(sigma)
            a, b = blur_frames(a, k), blur_frames(b, k)
        return float((a - b).norm() / a.norm())

    assert change(3.0) < 0.5 * change(0.0)


def test_adapter_blur_off_is_unchanged_and_bad_values_are_refused() -> None:
    x = torch.rand(2, 2, 65, 65)
    plain = ImageAdapter(2, 65, (0.1, 0.2), (0.3, 0.4))
    torch.testing.assert_close(ImageAdapter(2, 65, (0.1, 0.2), (0.3, 0.4), blur=0.0)(x), plain(x))
    blurred = ImageAdapter(2, 65, (0.1, 0.2), (0.3, 0.4), blur=2.0)(x)
    assert blurred.shape == plain(x).shape and not torch.allclose(blurred, plain(x))
    assert set(ImageAdapter(2, 65, blur=2.0).state_dict()) == set(plain.state_dict())
    for bad in (-1.0, float("nan"), "abc", True):
        with pytest.raises(ValueError, match="blur must be a number >= 0"):
            ImageAdapter(2, 65, blur=bad)  # type: ignore[arg-type]


def test_blur_reaches_every_branch_and_the_single_vit() -> None:
    for kwargs in (dict(branches=True), dict(branches=False)):
        model = lewm_smoke(GROUPED, blur=2.5, **kwargs)
        adapters = [m for m in model.modules() if isinstance(m, ImageAdapter)]
        assert adapters and all(a.blur == 2.5 for a in adapters)


def test_residual_predictor_starts_as_the_identity_then_learns() -> None:
    torch.manual_seed(0)
    model = lewm_smoke(GROUPED, branches=True, residual=True).train()
    g = torch.Generator().manual_seed(1)
    obs = torch.rand(3, 5, 2, 65, 65, generator=g)
    act = torch.randn(3, 4, 2, generator=g)
    lat = model.train_latents(obs, act)
    torch.testing.assert_close(lat.pred, lat.emb[:, :-1])  # no change predicted at first
    loss = (lat.pred - lat.target).pow(2).mean()
    loss.backward()
    last = model.pred_proj.net[-1]
    assert float(last.weight.grad.abs().sum()) > 0  # the change head learns from step one
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.step()
    model.eval()
    with torch.no_grad():
        z = model.encode(obs)
        nxt = model.predict(z[:, :1], act[:, :1])
        assert not torch.allclose(nxt, z[:, 0])
        roll = model.rollout(obs[:, 0], act)
        torch.testing.assert_close(roll[:, 1], nxt)  # rollout and predict agree


def test_residual_must_be_a_boolean() -> None:
    with pytest.raises(ValueError, match="residual must be true or false"):
        lewm_smoke(GROUPED, residual="yes")


def test_residual_off_is_lewms_own_head() -> None:
    torch.manual_seed(0)
    plain = lewm_smoke(GROUPED, branches=True)
    torch.manual_seed(0)
    res = lewm_smoke(GROUPED, branches=True, residual=True)
    assert set(plain.state_dict()) == set(res.state_dict())
    assert float(plain.pred_proj.net[-1].weight.detach().abs().sum()) > 0
    assert float(res.pred_proj.net[-1].weight.detach().abs().sum()) == 0
