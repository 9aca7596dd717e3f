"""Input adapters: task observations in [0, 1] -> the ViT's normalised square input.

The same model family reads wall_door frames (2 x 65 x 65) and camera frames from robot tasks
(3 x H x W). Frames are resized (bilinear; antialiased when shrinking) to ``image_size`` and
normalised per channel: ImageNet statistics for 3-channel images, mean 0.5 / std 0.5 otherwise,
unless the task supplies its own statistics.

``blur`` (a standard deviation in input pixels, 0 = off) first smooths every channel with a fixed
Gaussian of unit sum (edges replicated), so a blob far smaller than a patch spreads over several
and a move of it changes the patch tokens gradually instead of at a patch edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_stats(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std): ImageNet for RGB, 0.5 / 0.5 for any other channel count."""
    if channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    return (0.5,) * channels, (0.5,) * channels


def gaussian_kernel(sigma: float) -> Tensor:
    """1-D Gaussian of standard deviation ``sigma`` px over +-ceil(3 sigma), summing to 1."""
    if not sigma > 0:
        raise ValueError(f"blur sigma must be positive, got {sigma}")
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def blur_frames(x: Tensor, kernel: Tensor) -> Tensor:
    """(N, C, H, W) -> the same, each channel convolved with ``kernel`` along H and W."""
    c, r = x.shape[1], (kernel.numel() - 1) // 2
    k = kernel.to(dtype=x.dtype, device=x.device)
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # along H


class ImageAdapter(nn.Module):
    """(N, C, H, W) float in [0, 1] -> (N, C, S, S) resized and normalised."""

    mean: Tensor  # (1, C, 1, 1) buffer
    std: Tensor  # (1, C, 1, 1) buffer

    def __init__(
        self,
        in_chans: int,
        image_size: int,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        blur: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(blur, bool) or not isinstance(blur, (int, float)) or not blur >= 0:
            raise ValueError(f"blur must be a number >= 0 px (0: off), got {blur!r}")
        d_mean, d_std = default_stats(in_chans)
        mean = tuple(float(m) for m in (d_mean if mean is None else mean))
        std = tuple(float(s) for s in (d_std if std is None else std))
        if len(mean) != in_chans or len(std) != in_chans:
            raise ValueError(
                f"normalisation stats need {in_chans} values each, got mean {len(mean)}, "
                f"std {len(std)}"
            )
        if min(std) <= 0:
            raise ValueError(f"normalisation std must be positive, got {std}")
        self.in_chans = in_chans
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.blur = float(blur)
        self.kernel: Tensor | None
        # Non-persistent: it moves with the module, and checkpoints stay as they were.
        kernel = gaussian_kernel(self.blur) if self.blur > 0 else None
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, C, H, W) -> (N, C, S, S)
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"expected frames of shape (N, {self.in_chans}, H, W), got {tuple(x.shape)}"
            )
        if not torch.compiler.is_compiling() and not bool(torch.isfinite(x).all()):
            raise ValueError("observations contain NaN or infinite values")
        if self.kernel is not None:
            x = blur_frames(x, self.kernel)
        s = self.image_size
        if x.shape[-2:] != (s, s):
            shrink = x.shape[-2] > s or x.shape[-1] > s
            x = F.interpolate(
                x, size=(s, s), mode="bilinear", align_corners=False, antialias=shrink
            )
        return (x - self.mean) / self.std
