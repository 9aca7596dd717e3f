"""Geometry and stepping of the two-room world, vectorised over trajectories.

Coordinates are pixels, ``x`` the column and ``y`` the row of a 65 x 65 image. Border lines lie at
rows/columns 4 and 60; the agent lives strictly between them. The wall is a vertical band of
columns ``[wall_x - 1, wall_x + 1]`` that is open (the door) where ``|y - door_y| <= 4``.

A step from ``p`` to ``q = p + a`` is blocked when ``q`` touches or passes a border line, or when
the segment ``p -> q`` meets the solid part of the wall (its faces or the door's edges). A blocked
step leaves the agent where it was; the recorded action is unchanged.
"""

from __future__ import annotations

import numpy as np

IMG_SIZE = 65
BORDER_LO, BORDER_HI = 4.0, 60.0  # border lines (rows and columns)
START_LO, START_HI = 4.01, 59.99  # where starts are sampled / clamped
WALL_HALF = 1  # the wall band is wall_x +- 1 (3 px wide)
DOOR_HALF = 4  # the door is open where |y - door_y| <= 4 (9 px)
WALL_X_RANGE = (20, 44)  # inclusive: wall_padding 20 of a 65 px image
DOOR_Y_RANGE = (10, 54)  # inclusive: door_padding 10
# Layouts whose wall_x AND door_y both fall in these inclusive ranges are held out of training
# (train, probe_normal, probe_wall, probe_expert) and used only by probe_wall_other.
HELD_OUT_WALL_X = (30, 34)
HELD_OUT_DOOR_Y = (10, 54)


def layout_grid(held_out: bool) -> np.ndarray:
    """All integer layouts (wall_x, door_y) of the training pool or of the held-out pool: (M, 2)."""
    wx, dy = np.meshgrid(
        np.arange(WALL_X_RANGE[0], WALL_X_RANGE[1] + 1),
        np.arange(DOOR_Y_RANGE[0], DOOR_Y_RANGE[1] + 1),
        indexing="ij",
    )
    grid = np.stack([wx.ravel(), dy.ravel()], axis=1).astype(np.int16)
    out = is_held_out(grid)
    return grid[out] if held_out else grid[~out]


def is_held_out(layouts: np.ndarray) -> np.ndarray:
    """Whether each layout (N, 2) lies in the held-out (wall_x, door_y) ranges: (N,) bool."""
    wx, dy = layouts[..., 0], layouts[..., 1]
    in_x = (wx >= HELD_OUT_WALL_X[0]) & (wx <= HELD_OUT_WALL_X[1])
    in_y = (dy >= HELD_OUT_DOOR_Y[0]) & (dy <= HELD_OUT_DOOR_Y[1])
    return in_x & in_y


def sample_layouts(rng: np.random.Generator, n: int, held_out: bool = False) -> np.ndarray:
    """``n`` layouts drawn uniformly from the training (or held-out) pool: (n, 2) int16."""
    pool = layout_grid(held_out)
    return pool[rng.integers(0, len(pool), size=n)]


def in_wall(pos: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Whether points (N, ..., 2) lie in the solid wall of their layout (N, 2): (N, ...) bool."""
    extra = (slice(None),) + (None,) * (pos.ndim - 2)
    wx = layouts[:, 0].astype(np.float64)[extra]
    dy = layouts[:, 1].astype(np.float64)[extra]
    in_band = np.abs(pos[..., 0] - wx) <= WALL_HALF
    return in_band & (np.abs(pos[..., 1] - dy) > DOOR_HALF)


def in_room(pos: np.ndarray) -> np.ndarray:
    """Whether points (..., 2) lie strictly between the border lines: (...) bool."""
    return np.all((pos > BORDER_LO) & (pos < BORDER_HI), axis=-1)


def blocked(p: np.ndarray, q: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Whether each step ``p -> q`` (N, 2) is blocked by a border or the wall: (N,) bool.

    The segment is clipped to the wall band's columns; within that parameter interval ``y`` is
    linear, so the segment meets the solid wall iff ``y`` at either end of the interval lies
    outside the door.
    """
    p = p.astype(np.float64)
    q = q.astype(np.float64)
    hit_border = ~in_room(q)
    wx = layouts[:, 0].astype(np.float64)
    dy = layouts[:, 1].astype(np.float64)
    dx = q[:, 0] - p[:, 0]
    lo, hi = wx - WALL_HALF, wx + WALL_HALF
    moving = dx != 0
    safe_dx = np.where(moving, dx, 1.0)
    ta = (lo - p[:, 0]) / safe_dx
    tb = (hi - p[:, 0]) / safe_dx
    t0 = np.maximum(np.minimum(ta, tb), 0.0)
    t1 = np.minimum(np.maximum(ta, tb), 1.0)
    inside_now = (p[:, 0] >= lo) & (p[:, 0] <= hi)
    # a vertical step is in the band for all t or for none
    t0 = np.where(moving, t0, 0.0)
    t1 = np.where(moving, t1, np.where(inside_now, 1.0, -1.0))
    meets_band = t0 <= t1
    y0 = p[:, 1] + t0 * (q[:, 1] - p[:, 1])
    y1 = p[:, 1] + t1 * (q[:, 1] - p[:, 1])
    outside_door = (np.abs(y0 - dy) > DOOR_HALF) | (np.abs(y1 - dy) > DOOR_HALF)
    return hit_border | (meets_band & outside_door)


def step(p: np.ndarray, a: np.ndarray, layouts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of every agent: positions (N, 2) float32 and whether each step was blocked."""
    q = (p + a).astype(np.float32)
    stop = blocked(p, q, layouts)
    return np.where(stop[:, None], p, q), stop


def simulate(start: np.ndarray, actions: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Locations (N, T, 2) float32 from starts (N, 2), actions (N, T-1, 2) and layouts (N, 2)."""
    n, steps = actions.shape[:2]
    locs = np.empty((n, steps + 1, 2), dtype=np.float32)
    locs[:, 0] = start
    for t in range(steps):
        locs[:, t + 1], _ = step(locs[:, t], actions[:, t], layouts)
    return locs


def side_of_wall(pos: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """-1 left of the wall band, +1 right of it, 0 inside it, for points (N, T, 2): (N, T) int."""
    wx = layouts[:, 0].astype(np.float64)[:, None]
    x = pos[..., 0]
    return np.where(x < wx - WALL_HALF, -1, np.where(x > wx + WALL_HALF, 1, 0))


def crosses_wall(locations: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Whether each trajectory (N, T, 2) visits both rooms: (N,) bool."""
    side = side_of_wall(locations, layouts)
    return (side == -1).any(axis=1) & (side == 1).any(axis=1)


def sample_starts(rng: np.random.Generator, layouts: np.ndarray) -> np.ndarray:
    """Uniform starts in the room (N, 2) float32; starts in the wall band move to a side (50/50)."""
    n = len(layouts)
    pos = rng.uniform(START_LO, START_HI, size=(n, 2))
    wx = layouts[:, 0].astype(np.float64)
    in_band = np.abs(pos[:, 0] - wx) <= WALL_HALF
    left = rng.random(n) < 0.5
    # resample x uniformly within the chosen room
    x_left = rng.uniform(START_LO, wx - WALL_HALF - 0.01)
    x_right = rng.uniform(wx + WALL_HALF + 0.01, START_HI)
    pos[:, 0] = np.where(in_band, np.where(left, x_left, x_right), pos[:, 0])
    return pos.astype(np.float32)
