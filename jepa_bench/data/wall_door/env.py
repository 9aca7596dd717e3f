"""The wall_door planning environment: the generator's physics and rendering, one step at a time.

Vectorised over ``B`` independent agents, each with its own layout (wall_x, door_y), position and
goal. ``step`` calls ``physics.step`` and observations come from ``render.render``, so a sequence
of actions replayed here gives exactly the locations and frames the data generator records.
"""

from __future__ import annotations

import numpy as np

from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.render import render


def _as_points(x: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    """``x`` as finite float32 (B, 2); a single (2,) point becomes (1, 2)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (B, 2) or (2,); got {np.shape(x)}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} rows but the environment has {n} agents")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr.astype(np.float32)


def check_layouts(layouts: np.ndarray) -> np.ndarray:
    """Validated integer layouts (B, 2) of (wall_x, door_y) within the generator's ranges."""
    arr = np.asarray(layouts)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"layouts must have shape (B, 2) or (2,); got {np.shape(layouts)}")
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise ValueError("layouts must hold integer (wall_x, door_y) pairs")
    wx, dy = arr[:, 0], arr[:, 1]
    bad_x = (wx < ph.WALL_X_RANGE[0]) | (wx > ph.WALL_X_RANGE[1])
    bad_y = (dy < ph.DOOR_Y_RANGE[0]) | (dy > ph.DOOR_Y_RANGE[1])
    if bad_x.any() or bad_y.any():
        i = int(np.flatnonzero(bad_x | bad_y)[0])
        raise ValueError(
            f"layout {i} = {arr[i].tolist()} lies outside wall_x {ph.WALL_X_RANGE}, "
            f"door_y {ph.DOOR_Y_RANGE}"
        )
    return arr.astype(np.int16)


def check_positions(pos: np.ndarray, layouts: np.ndarray, name: str) -> None:
    """Raise if any position (B, 2) is outside the room or inside the solid wall."""
    outside = ~ph.in_room(pos)
    walled = ph.in_wall(pos, layouts)
    if outside.any() or walled.any():
        i = int(np.flatnonzero(outside | walled)[0])
        where = "outside the border" if outside[i] else "inside the wall"
        raise ValueError(f"{name} {i} = {pos[i].tolist()} lies {where} (layout {layouts[i]})")


class WallDoorEnv:
    """``B`` agents in two-room worlds; ``reset`` places them, ``step`` moves them."""

    obs_shape = (2, ph.IMG_SIZE, ph.IMG_SIZE)
    action_dim = 2

    def __init__(self) -> None:
        self.layouts = np.zeros((0, 2), np.int16)  # (B, 2) wall_x, door_y
        self.position = np.zeros((0, 2), np.float32)  # (B, 2) x (column), y (row)
        self.goal = np.zeros((0, 2), np.float32)  # (B, 2)
        self.steps = 0

    def __len__(self) -> int:
        return len(self.position)

    def reset(self, start: np.ndarray, goal: np.ndarray, layouts: np.ndarray) -> np.ndarray:
        """Place agents at ``start`` (B, 2) with ``goal`` (B, 2); returns observations."""
        layouts = check_layouts(layouts)
        start = _as_points(start, "start", len(layouts))
        goal = _as_points(goal, "goal", len(layouts))
        check_positions(start, layouts, "start")
        check_positions(goal, layouts, "goal")
        self.layouts, self.position, self.goal = layouts, start, goal
        self.steps = 0
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Move every agent by its action (B, 2) px; returns (observations, blocked (B,) bool).

        A step that would cross a border or the solid wall leaves the agent in place (the
        generator's rule). Actions are not clipped here; planners bound their own.
        """
        if len(self) == 0:
            raise RuntimeError("call reset() before step()")
        actions = _as_points(actions, "actions", len(self))
        self.position, blocked = ph.step(self.position, actions, self.layouts)
        self.steps += 1
        return self.observe(), blocked

    def observe(self) -> np.ndarray:
        """Current observations (B, 2, 65, 65) float32 in [0, 1]."""
        return render(self.position[:, None], self.layouts)[:, 0]

    def goal_observation(self) -> np.ndarray:
        """What the agent would see at its goal: (B, 2, 65, 65) float32."""
        return render(self.goal[:, None], self.layouts)[:, 0]

    def distance(self) -> np.ndarray:
        """Euclidean distance (B,) in px from each agent to its goal."""
        return np.hypot(*(self.position - self.goal).T).astype(np.float64)
