"""The sparse pass of convnext_mlp's blocks equals the dense pass (outputs and gradients)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.models.convnext_mlp import Branch
from jepa_bench.models.sparse_blocks import bounding_boxes, pool_weights, sparse_crop_pixels


def blobs(n: int, size: int, centres: list[tuple[float, float]], sigma: float) -> torch.Tensor:
    """(n, 1, size, size) frames, frame i holding a Gaussian blob at centres[i] (cut at 1e-30,
    as wall_door renders its agent); a centre of (-100, -100) gives an empty frame."""
    g = torch.arange(size, dtype=torch.float32)
    out = torch.zeros(n, 1, size, size)
    for i, (r, c) in enumerate(centres):
        blob = torch.exp(-((g[:, None] - r) ** 2 + (g[None, :] - c) ** 2) / (2 * sigma**2))
        out[i, 0] = torch.where(blob < 1e-30, torch.zeros(()), blob)
    return out


def pair(depth: int, width: int = 4, pool: int = 3) -> tuple[Branch, Branch]:
    torch.manual_seed(0)
    sparse = Branch(1, width, depth, pool, 8, 0.0, sparse=True)
    dense = Branch(1, width, depth, pool, 8, 0.0, sparse=False)
    dense.load_state_dict(sparse.state_dict())
    with torch.no_grad():  # a trained-looking LayerNorm: non-zero biases (the background)
        for a, b in zip(sparse.parameters(), dense.parameters(), strict=True):
            a.add_(0.1 * torch.randn_like(a))
            b.copy_(a)
    return sparse, dense


centre = st.tuples(st.floats(-3.0, 36.0), st.floats(-3.0, 36.0))


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.one_of(centre, st.just((-100.0, -100.0))), min_size=1, max_size=4),
    st.sampled_from([1, 2]),
)
def test_sparse_pass_equals_dense_pass_with_gradients(centres, depth):
    """Blobs anywhere (at and beyond the border too) and empty frames: the same latents and the
    same parameter gradients as the dense pass, to float rounding."""
    x = blobs(len(centres), 33, centres, sigma=0.8)
    sparse, dense = pair(depth)
    out = {}
    for name, branch in (("sparse", sparse), ("dense", dense)):
        z = branch(x)
        (z * torch.linspace(-1, 1, z.numel()).view_as(z)).sum().backward()
        out[name] = (z.detach(), [p.grad.clone() for p in branch.parameters()])
    assert torch.allclose(out["sparse"][0], out["dense"][0], rtol=1e-4, atol=1e-5)
    for gs, gd in zip(out["sparse"][1], out["dense"][1], strict=True):
        assert torch.allclose(gs, gd, rtol=1e-3, atol=1e-5)


def test_sparse_pass_runs_on_sparse_frames_only():
    """Small boxes take the sparse pass; a frame full of content falls back to the dense one."""
    x = blobs(2, 65, [(10.0, 50.0), (64.0, 0.0)], sigma=1.3)
    assert sparse_crop_pixels(x, depth=2, kernel=7) is not None
    assert sparse_crop_pixels(torch.rand(2, 1, 65, 65), depth=2, kernel=7) is None


def test_bounding_boxes_of_masks():
    m = torch.zeros(3, 8, 9, dtype=torch.bool)
    m[0, 2:5, 3:4] = True
    m[1, 7, 0] = True
    r0, c0, h, w = bounding_boxes(m)
    assert r0.tolist() == [2, 7, 0] and c0.tolist() == [3, 0, 0] and (h, w) == (3, 1)


@pytest.mark.parametrize(("size", "bins"), [(65, 6), (33, 3), (7, 7), (10, 4)])
def test_pool_weights_are_adaptive_average_pooling(size, bins):
    x = torch.randn(2, 3, size, size)
    w = pool_weights(size, bins)
    pooled = torch.einsum("ir,ncrs,js->ncij", w, x, w)
    assert torch.allclose(pooled, torch.nn.functional.adaptive_avg_pool2d(x, bins), atol=1e-6)


def test_non_finite_pixels_reach_the_latents():
    """A NaN or inf pixel in a sparse frame makes that frame's latents non-finite, as densely."""
    x = blobs(3, 33, [(10.0, 10.0), (20.0, 5.0), (5.0, 25.0)], sigma=0.8)
    x[1, 0, 30, 30] = float("nan")
    x[2, 0, 3, 3] = float("inf")
    sparse, _ = pair(2)
    z = sparse(x)
    assert torch.isfinite(z[0]).all() and not torch.isfinite(z[1]).any()
    assert not torch.isfinite(z[2]).all()
