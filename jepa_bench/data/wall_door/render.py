"""Vectorised rendering of compact trajectories into float32 observations (B, T, 2, 65, 65).

Channel 0 is the agent, a Gaussian blob ``exp(-d^2 / (2 * 1.3^2))`` centred on the sub-pixel
location (value 1.0 at the exact location). Channel 1 holds the border lines and the wall at 1.0.

The blob's far tail underflows: about 2% of the agent channel's pixels would be subnormal floats
(below 1.2e-38), and products of the next-smallest ones with a network's weights are subnormal
too; CPUs compute with subnormals many times slower. Values below ``CUTOFF`` (1e-30, far below
float32's resolution next to the blob's 1.0) are stored as 0: a convnext_mlp trained on either
rendering has bit-identical weights, and a training step takes half the CPU time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from jepa_bench.data.wall_door.physics import BORDER_HI, BORDER_LO, DOOR_HALF, IMG_SIZE, WALL_HALF

DOT_STD = 1.3
_GRID = np.arange(IMG_SIZE, dtype=np.float32)
CUTOFF = 1e-30  # agent pixels below this are 0 (see the module docstring)


def render_walls(layouts: np.ndarray) -> np.ndarray:
    """Wall-and-border images (B, 65, 65) float32 for layouts (B, 2) of (wall_x, door_y)."""
    layouts = np.asarray(layouts)
    if layouts.ndim != 2 or layouts.shape[1] != 2:
        raise ValueError(f"layouts must have shape (B, 2); got {layouts.shape}")
    wx = layouts[:, 0].astype(np.float32)[:, None, None]
    dy = layouts[:, 1].astype(np.float32)[:, None, None]
    cols = _GRID[None, None, :]
    rows = _GRID[None, :, None]
    wall = (np.abs(cols - wx) <= WALL_HALF) & (np.abs(rows - dy) > DOOR_HALF)  # (B, 65, 65)
    out = wall.astype(np.float32)
    lo, hi = int(BORDER_LO), int(BORDER_HI)
    out[:, [lo, hi], :] = 1.0
    out[:, :, [lo, hi]] = 1.0
    return out


def render_agent(locations: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Agent blobs (B, T, 65, 65) float32 for locations (B, T, 2) of (x = column, y = row)."""
    loc = np.asarray(locations, dtype=np.float32)
    inv = np.float32(-0.5 / DOT_STD**2)
    gx = np.exp(inv * (_GRID - loc[..., 0:1]) ** 2)  # (B, T, 65) over columns
    gy = np.exp(inv * (_GRID - loc[..., 1:2]) ** 2)  # (B, T, 65) over rows
    if out is None:
        out = gy[..., :, None] * gx[..., None, :]
    else:
        np.multiply(gy[..., :, None], gx[..., None, :], out=out)
    out[out < CUTOFF] = 0.0  # no subnormals (see the module docstring)
    return out


def render(locations: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Observations (B, T, 2, 65, 65) float32 in [0, 1] from locations (B, T, 2), layouts (B, 2)."""
    locations = np.asarray(locations)
    if locations.ndim != 3 or locations.shape[2] != 2:
        raise ValueError(f"locations must have shape (B, T, 2); got {locations.shape}")
    if len(layouts) != len(locations):
        raise ValueError(f"{len(locations)} trajectories but {len(layouts)} layouts")
    if not np.isfinite(locations).all():
        raise ValueError("locations contain NaN or infinite values")
    b, t = locations.shape[:2]
    obs = np.empty((b, t, 2, IMG_SIZE, IMG_SIZE), dtype=np.float32)
    render_agent(locations, out=obs[:, :, 0])
    obs[:, :, 1] = render_walls(layouts)[:, None]  # static within a trajectory
    return obs


def render_torch(locations: Tensor, layouts: Tensor) -> Tensor:
    """``render`` in torch, on the tensors' device: (B, T, 2, 65, 65) float32.

    Training renders batches here from the compact trajectories, so on a GPU observations are
    made where they are used (no host rendering and copying); tests check it equals ``render``.
    """
    b, t = locations.shape[:2]
    grid = torch.arange(IMG_SIZE, dtype=torch.float32, device=locations.device)
    loc = locations.to(torch.float32)
    inv = -0.5 / DOT_STD**2
    gx = torch.exp(inv * (grid - loc[..., 0:1]) ** 2)  # (B, T, 65) over columns
    gy = torch.exp(inv * (grid - loc[..., 1:2]) ** 2)  # (B, T, 65) over rows
    obs = torch.empty(b, t, 2, IMG_SIZE, IMG_SIZE, dtype=torch.float32, device=locations.device)
    agent = obs[:, :, 0]
    torch.mul(gy[..., :, None], gx[..., None, :], out=agent)
    agent.masked_fill_(agent < CUTOFF, 0.0)  # no subnormals, as ``render_agent``
    wx = layouts[:, 0].to(torch.float32)[:, None, None]
    dy = layouts[:, 1].to(torch.float32)[:, None, None]
    wall = (torch.abs(grid[None, None, :] - wx) <= WALL_HALF) & (
        torch.abs(grid[None, :, None] - dy) > DOOR_HALF
    )  # (B, 65, 65)
    walls = wall.to(torch.float32)
    lo, hi = int(BORDER_LO), int(BORDER_HI)
    walls[:, [lo, hi], :] = 1.0
    walls[:, :, [lo, hi]] = 1.0
    obs[:, :, 1] = walls[:, None]  # static within a trajectory
    return obs
