"""ConvNeXt blocks on sparse frames: compute only around what is not background.

A branch whose input is zero almost everywhere (wall_door's agent channel: one blob in 65 x 65
pixels) spends nearly all of a dense pass on pixels that all get the same value. Without biases
in the stem and the depthwise convolutions, a zero input pixel stays zero through the stem, and
the blocks turn a zero field into one *background* field ``B`` (the same for every frame: constant
away from the image border, where the zero padding of the depthwise convolutions shows). A frame
differs from ``B`` only within ``depth * (kernel // 2)`` pixels of its non-zero pixels.

So the blocks run on ``B`` once (one dense frame) and, per frame, on a crop around the bounding
box of its non-zero pixels, with a margin of ``(2 * depth - 1) * (kernel // 2)`` pixels: the
crop's edges, padded with zeros where the true field is background, spoil ``(depth - 1) * (kernel
// 2)`` pixels of its rim, which are outside the region where the frame differs from ``B``.
Pixels outside the image are zeroed after each block, as the dense pass pads them. The
average pool is linear, so the pooled output is ``pool(B)`` plus the pooled difference of each
crop's valid interior from ``B`` (separable row and column pooling weights). The result equals
the dense pass up to float rounding, and so do its gradients (autograd runs through the same
operations); input values of magnitude at most ``below`` count as zero (1e-9: their effect on the
latents is under float32 resolution).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SPARSE_BELOW = 1e-9  # input magnitudes treated as zero
MAX_CROP_FRACTION = 0.5  # the sparse pass runs when a crop has at most this share of the pixels


def nonzero(x: Tensor, below: float) -> Tensor:
    """Pixels that count: magnitude above ``below``, or not finite (NaN and inf must reach the
    output as the dense pass would carry them)."""
    return ~(x.abs() <= below)


def bounding_boxes(active: Tensor) -> tuple[Tensor, Tensor, int, int]:
    """Top-left corners (N,), (N,) and the largest height and width of the True pixels of each
    (N, H, W) mask; a frame without any gets the corner (0, 0)."""
    rows, cols = active.any(2), active.any(1)  # (N, H), (N, W)

    def span(m: Tensor) -> tuple[Tensor, Tensor]:
        first = m.int().argmax(1)
        last = m.shape[1] - 1 - m.flip(1).int().argmax(1)
        empty = ~m.any(1)
        return first.masked_fill(empty, 0), last.masked_fill(empty, 0)

    r0, r1 = span(rows)
    c0, c1 = span(cols)
    return r0, c0, int((r1 - r0).max()) + 1, int((c1 - c0).max()) + 1


def pool_weights(size: int, bins: int) -> Tensor:
    """(bins, size) weights of ``AdaptiveAvgPool`` along one axis: 1 / bin length inside a bin."""
    w = torch.zeros(bins, size)
    for i in range(bins):
        lo, hi = (i * size) // bins, -((-(i + 1) * size) // bins)
        w[i, lo:hi] = 1.0 / (hi - lo)
    return w


def _gather(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """Crops (N, C, h, w) of ``x`` (N or 1, C, H, W) at row indices (N, h) and columns (N, w)."""
    n = torch.arange(rows.shape[0], device=x.device)[:, None, None]
    if x.shape[0] == 1:
        n = torch.zeros_like(n)
    return x[n, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (N, h, w, C) first


def margins(depth: int, kernel: int) -> tuple[int, int]:
    """(pad, rim): a crop's margin around the box, and the rim of it the crop's edges spoil."""
    m = kernel // 2
    return (2 * depth - 1) * m, (depth - 1) * m


def sparse_crop_pixels(
    x: Tensor, depth: int, kernel: int, below: float = SPARSE_BELOW
) -> int | None:
    """Pixels of one crop of the sparse pass on ``x`` (N, c, H, W), or None when it would not
    pay off (a crop larger than ``MAX_CROP_FRACTION`` of the frame)."""
    pad, _ = margins(depth, kernel)
    _, _, bh, bw = bounding_boxes(nonzero(x, below).any(1))
    pixels = (bh + 2 * pad) * (bw + 2 * pad)
    return None if pixels > MAX_CROP_FRACTION * x.shape[-2] * x.shape[-1] else pixels


def sparse_pooled(
    x: Tensor,
    stem: Callable[[Tensor], Tensor],
    blocks: nn.Sequential,
    kernel: int,
    bins: int,
    below: float = SPARSE_BELOW,
) -> Tensor:
    """``AdaptiveAvgPool(bins)(blocks(stem(x)))`` (N, C, bins, bins) computed around the non-zero
    pixels of ``x`` (N, c, H, W); ``sparse_crop_pixels`` says whether that pays off."""
    _, _, h, w = x.shape
    pad, rim = margins(len(blocks), kernel)
    keep = nonzero(x, below)
    r0, c0, bh, bw = bounding_boxes(keep.any(1))
    sh, sw = bh + 2 * pad, bw + 2 * pad
    x = torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))
    # crops start where the box does (moved up/left so a smaller box still fits), in coordinates
    # of the image padded by ``pad`` on every side
    r0 = torch.minimum(r0, torch.tensor(h - bh, device=x.device))
    c0 = torch.minimum(c0, torch.tensor(w - bw, device=x.device))
    rows = r0[:, None] + torch.arange(sh, device=x.device)  # (N, sh), padded coordinates
    cols = c0[:, None] + torch.arange(sw, device=x.device)
    inside = ((rows >= pad) & (rows < h + pad))[:, None, :, None] & (
        (cols >= pad) & (cols < w + pad)
    )[:, None, None, :]
    inside = inside.to(x.dtype)  # (N, 1, sh, sw): 0 where the dense pass pads
    crop = _gather(F.pad(x, (pad, pad, pad, pad)), rows, cols)  # (N, c, sh, sw)
    zero = x.new_zeros(1, x.shape[1], h, w)
    back, y = stem(zero), stem(crop)
    for block in blocks:
        back, y = block(back), block(y) * inside
    keep_r, keep_c = rows[:, rim : sh - rim], cols[:, rim : sw - rim]
    valid = y[:, :, rim : sh - rim, rim : sw - rim]
    diff = valid - _gather(F.pad(back, (pad, pad, pad, pad)), keep_r, keep_c)
    wr = F.pad(pool_weights(h, bins).to(x), (pad, pad))[:, keep_r].permute(1, 0, 2)  # (N, p, h')
    wc = F.pad(pool_weights(w, bins).to(x), (pad, pad))[:, keep_c].permute(1, 0, 2)  # (N, p, w')
    pooled_back = F.adaptive_avg_pool2d(back, bins)  # (1, C, p, p)
    return pooled_back + torch.einsum("nir,ncrs,njs->ncij", wr, diff, wc)
