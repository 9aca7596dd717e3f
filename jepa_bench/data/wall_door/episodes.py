"""The fixed, seeded start/goal pairs that planning is scored on, and the geometry they need.

Two cases, drawn from training-pool layouts:

- ``same_room``: start and goal in the same room, ``SAME_ROOM_DIST`` px apart;
- ``cross_room``: start and goal in different rooms, each ``CROSS_FACE_DIST`` px from the wall,
  with the straight segment between them blocked by the wall (only a detour through the door
  reaches the goal) and a shortest path through the door of at most ``CROSS_MAX_PATH`` px.

Every point keeps ``MARGIN`` px from the border lines and the wall's faces. The set depends only
on ``seed``: the same for every model and run, and episode ``i`` does not depend on ``n``.
"""

from __future__ import annotations

import numpy as np

from jepa_bench.data.base import Episodes
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.actions import DOOR_POINT_MAX

EPISODE_SEED = 2025  # default seed of the episode set (fixed per task version)
CASES = ("same_room", "cross_room")
MARGIN = 2.0  # px from border lines and wall faces
SAME_ROOM_DIST = (5.0, 25.0)  # start-goal distance, px
CROSS_FACE_DIST = (2.0, 12.0)  # distance of start and goal from the wall face, px
CROSS_MAX_PATH = 40.0  # longest shortest path through the door, px


def path_length(p: np.ndarray, q: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Length (N,) of the shortest path p -> q (N, 2) in px, through the door across rooms.

    Points in different rooms are joined through the door's centre column at a height within
    ``DOOR_POINT_MAX`` of door_y (the best such height is where the straight line crosses,
    clamped); otherwise the distance is Euclidean. The wall band's 3 px depth is ignored.
    """
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    wx = layouts[:, 0].astype(np.float64)
    dy = layouts[:, 1].astype(np.float64)
    sp = ph.side_of_wall(p[:, None], layouts)[:, 0]
    sq = ph.side_of_wall(q[:, None], layouts)[:, 0]
    across = sp * sq < 0
    dx = q[:, 0] - p[:, 0]
    t = np.where(across, (wx - p[:, 0]) / np.where(dx == 0, 1.0, dx), 0.0)
    y = np.clip(p[:, 1] + t * (q[:, 1] - p[:, 1]), dy - DOOR_POINT_MAX, dy + DOOR_POINT_MAX)
    via = np.hypot(wx - p[:, 0], y - p[:, 1]) + np.hypot(q[:, 0] - wx, q[:, 1] - y)
    return np.where(across, via, np.hypot(dx, q[:, 1] - p[:, 1]))


def room_bounds(wall_x: float, side: int) -> tuple[float, float]:
    """x range of a room (side -1 left, +1 right) keeping ``MARGIN`` from border and wall."""
    if side < 0:
        return ph.BORDER_LO + MARGIN, wall_x - ph.WALL_HALF - MARGIN
    return wall_x + ph.WALL_HALF + MARGIN, ph.BORDER_HI - MARGIN


def _same_room(rng: np.random.Generator, layout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_lo, y_hi = ph.BORDER_LO + MARGIN, ph.BORDER_HI - MARGIN
    while True:
        side = -1 if rng.random() < 0.5 else 1
        x_lo, x_hi = room_bounds(float(layout[0]), side)
        start = np.array([rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)])
        for _ in range(50):
            d = rng.uniform(*SAME_ROOM_DIST)
            theta = rng.uniform(0.0, 2 * np.pi)
            goal = start + d * np.array([np.cos(theta), np.sin(theta)])
            if x_lo <= goal[0] <= x_hi and y_lo <= goal[1] <= y_hi:
                return start, goal


def _cross_room(rng: np.random.Generator, layout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wx = float(layout[0])
    y_lo, y_hi = ph.BORDER_LO + MARGIN, ph.BORDER_HI - MARGIN
    lay = layout[None].astype(np.int16)
    for _ in range(1000):
        side = -1 if rng.random() < 0.5 else 1
        face = wx + side * ph.WALL_HALF
        sx = face + side * rng.uniform(*CROSS_FACE_DIST)
        gx = face - side * (2 * ph.WALL_HALF + rng.uniform(*CROSS_FACE_DIST))
        start = np.array([sx, rng.uniform(y_lo, y_hi)])
        goal = np.array([gx, rng.uniform(y_lo, y_hi)])
        if not (room_bounds(wx, side)[0] <= sx <= room_bounds(wx, side)[1]):
            continue
        if not (room_bounds(wx, -side)[0] <= gx <= room_bounds(wx, -side)[1]):
            continue
        needs_door = ph.blocked(start[None], goal[None], lay)[0]
        if needs_door and path_length(start[None], goal[None], lay)[0] <= CROSS_MAX_PATH:
            return start, goal
    raise RuntimeError(f"no cross-room pair found for layout {layout.tolist()}")


def make_episodes(case: str, n: int, seed: int = EPISODE_SEED) -> Episodes:
    """``n`` episodes of ``case`` ("same_room" or "cross_room"), deterministic in (seed, n)."""
    if case not in CASES:
        raise ValueError(f"unknown planning case {case!r}; expected one of {', '.join(CASES)}")
    if n < 0:
        raise ValueError(f"number of episodes must be >= 0, got {n}")
    draw = _same_room if case == "same_room" else _cross_room
    pairs, layouts = [], []
    for i in range(n):  # episode i has its own stream: a larger set extends a smaller one
        rng = np.random.default_rng(np.random.SeedSequence([seed, CASES.index(case), i]))
        layout = ph.sample_layouts(rng, 1, held_out=False)[0]
        pairs.append(draw(rng, layout))
        layouts.append(layout)
    starts = np.array([p[0] for p in pairs], np.float32).reshape(n, 2)
    goals = np.array([p[1] for p in pairs], np.float32).reshape(n, 2)
    return Episodes(case, starts, goals, np.array(layouts, np.int16).reshape(n, 2))


def episode_sets(n: int, seed: int = EPISODE_SEED) -> dict[str, Episodes]:
    """``n`` episodes of every case, keyed by case."""
    return {case: make_episodes(case, n, seed) for case in CASES}
