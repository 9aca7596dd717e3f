"""Action generators: random exploration, door crossings, runs at the wall, and an expert.

Every generator is vectorised over trajectories and draws only from the ``rng`` it is given.
Each returns starts (N, 2) float32 and actions (N, T-1, 2) float32; locations come from
``physics.simulate`` so every trajectory obeys the same collision rule.
"""

from __future__ import annotations

import numpy as np

from jepa_bench.data.wall_door import physics as ph

KAPPA = 5.0  # VonMises concentration of the heading random walk ("good" data)
STEP_MEAN, STEP_STD = 1.0, 0.4  # step length: truncated normal ...
STEP_LO, STEP_HI = 0.2, 1.8  # ... on [0.2, 1.8]
CROSS_WALL_RATE = 0.6  # fraction of exploration trajectories built to pass the door
DOOR_POINT_STD = 1.4  # y spread of the door point around door_y ...
DOOR_POINT_MAX = 3.0  # ... truncated to +-3 px (1 px inside the door's edges)
WALL_PROBE_DOOR_FRAC = 0.25  # probe_wall: starts within door_y +- 2 (these pass the door)
WALL_PROBE_DIST = (1.0, 14.0)  # probe_wall: start distance to the wall face, px
EXPERT_LANE = 2.0  # expert: crosses the door within door_y +- 2
EXPERT_APPROACH = 4.0  # expert: door waypoints lie 4 px either side of the wall


def truncated_normal(
    rng: np.random.Generator, size: tuple[int, ...], mean: float, std: float, lo: float, hi: float
) -> np.ndarray:
    """Normal(mean, std) samples restricted to [lo, hi] by vectorised rejection."""
    out = rng.normal(mean, std, size=size)
    bad = (out < lo) | (out > hi)
    while bad.any():
        out[bad] = rng.normal(mean, std, size=int(bad.sum()))
        bad = (out < lo) | (out > hi)
    return out


def step_lengths(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Step lengths of exploration actions: (size) float64 in [0.2, 1.8]."""
    return truncated_normal(rng, size, STEP_MEAN, STEP_STD, STEP_LO, STEP_HI)


def heading_walk(rng: np.random.Generator, theta0: np.ndarray, steps: int) -> np.ndarray:
    """Headings (N, steps): start at ``theta0`` (N,), then add VonMises(0, kappa) each step."""
    turns = rng.vonmises(0.0, KAPPA, size=(len(theta0), steps))
    turns[:, 0] = 0.0
    return theta0[:, None] + np.cumsum(turns, axis=1)


def polar(theta: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Vectors (..., 2) of the given headings and lengths."""
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1) * length[..., None]


def random_walk(
    rng: np.random.Generator, layouts: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exploration: uniform starts, heading random walk from a uniform heading."""
    n = len(layouts)
    start = ph.sample_starts(rng, layouts)
    theta = heading_walk(rng, rng.uniform(0.0, 2 * np.pi, size=n), steps)
    actions = polar(theta, step_lengths(rng, (n, steps)))
    return start, actions.astype(np.float32)


def door_crossing(
    rng: np.random.Generator, layouts: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random walks built around a point in the door, reached after a random number of steps.

    Steps after the door point walk away from it on one side; steps before it are a walk away
    on the other side, reversed. The start is the door point minus the preceding actions.
    """
    n = len(layouts)
    wx = layouts[:, 0].astype(np.float64)
    dy = layouts[:, 1].astype(np.float64)
    door = np.stack(
        [
            rng.uniform(wx - ph.WALL_HALF, wx + ph.WALL_HALF),
            dy + truncated_normal(rng, (n,), 0.0, DOOR_POINT_STD, -DOOR_POINT_MAX, DOOR_POINT_MAX),
        ],
        axis=1,
    )
    k = rng.integers(1, steps + 1, size=n)  # location index of the door point
    forward = np.where(rng.random(n) < 0.5, 0.0, np.pi)  # rightwards or leftwards
    spread = np.pi / 4
    after = heading_walk(rng, forward + rng.uniform(-spread, spread, n), steps)
    before = heading_walk(rng, forward + np.pi + rng.uniform(-spread, spread, n), steps)
    a_after = polar(after, step_lengths(rng, (n, steps)))  # (N, steps, 2)
    a_before = -polar(before, step_lengths(rng, (n, steps)))[:, ::-1]  # ends at the door
    t = np.arange(steps)[None, :]
    # actions[j] for j < k come from the last k reversed "before" steps, the rest from "after"
    idx_before = np.clip(steps - k[:, None] + t, 0, steps - 1)
    idx_after = np.clip(t - k[:, None], 0, steps - 1)
    rows = np.arange(n)[:, None]
    actions = np.where(
        (t < k[:, None])[..., None], a_before[rows, idx_before], a_after[rows, idx_after]
    )
    before_door = np.where((t < k[:, None])[..., None], actions, 0.0).sum(axis=1)
    start = np.clip(door - before_door, ph.START_LO, ph.START_HI)
    return start.astype(np.float32), actions.astype(np.float32)


def wall_run(
    rng: np.random.Generator, layouts: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Constant unit actions toward the wall; 25% of starts face the door (+-2 px)."""
    n = len(layouts)
    wx = layouts[:, 0].astype(np.float64)
    dy = layouts[:, 1].astype(np.float64)
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)  # start left (-1) or right (+1) of the wall
    face = wx + side * ph.WALL_HALF
    room = np.where(side < 0, face - ph.START_LO, ph.START_HI - face)
    dist = rng.uniform(WALL_PROBE_DIST[0], np.minimum(WALL_PROBE_DIST[1], room))
    x = face + side * dist
    at_door = rng.random(n) < WALL_PROBE_DOOR_FRAC
    y_door = rng.uniform(dy - 2.0, dy + 2.0)
    # elsewhere: uniform over the room's rows at least 5 px from door_y
    below = (dy - 5.0) - ph.START_LO
    above = ph.START_HI - (dy + 5.0)
    u = rng.uniform(0.0, below + above)
    y_wall = np.where(u < below, ph.START_LO + u, dy + 5.0 + (u - below))
    start = np.stack([x, np.where(at_door, y_door, y_wall)], axis=1)
    actions = np.zeros((n, steps, 2))
    actions[:, :, 0] = -side[:, None]
    return start.astype(np.float32), actions.astype(np.float32)


def _expert_target(pos, goal, phase, layouts):
    """Current waypoint (N, 2): door approach (phase 0), door exit (1) or goal (2)."""
    wx = layouts[:, 0].astype(np.float64)
    lane = goal[:, 2]
    side = np.sign(goal[:, 3])  # side the agent starts the crossing from
    approach = np.stack([wx + side * EXPERT_APPROACH, lane], axis=1)
    exit_ = np.stack([wx - side * EXPERT_APPROACH, lane], axis=1)
    return np.where(
        (phase == 0)[:, None], approach, np.where((phase == 1)[:, None], exit_, goal[:, :2])
    )


def _new_goals(rng, pos, layouts, mask, goal, phase):
    """Draw fresh goals where ``mask``; plan through the door when a goal is in the other room."""
    m = int(mask.sum())
    if m == 0:
        return
    lay = layouts[mask]
    g = ph.sample_starts(rng, lay).astype(np.float64)
    lane = lay[:, 1] + rng.uniform(-EXPERT_LANE, EXPERT_LANE, m)
    here = np.sign(pos[mask, 0] - lay[:, 0])
    there = np.sign(g[:, 0] - lay[:, 0])
    goal[mask] = np.stack([g[:, 0], g[:, 1], lane, here], axis=1)
    phase[mask] = np.where(here != there, 0, 2)


def expert(
    rng: np.random.Generator, layouts: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Goal-directed trajectories: head for a random goal (through the door if it lies in the
    other room), then for a new goal; step lengths as in exploration data."""
    n = len(layouts)
    start = ph.sample_starts(rng, layouts)
    pos = start.astype(np.float32)
    goal = np.zeros((n, 4))  # goal x, goal y, door lane y, side of the crossing's start
    phase = np.zeros(n, dtype=np.int8)
    _new_goals(rng, pos, layouts, np.ones(n, bool), goal, phase)
    actions = np.zeros((n, steps, 2), dtype=np.float32)
    lengths = step_lengths(rng, (n, steps))
    for t in range(steps):
        for _ in range(3):  # advance past waypoints closer than this step
            d = _expert_target(pos, goal, phase, layouts) - pos
            near = np.hypot(d[:, 0], d[:, 1]) < lengths[:, t]
            if not near.any():
                break
            done = near & (phase == 2)
            phase = np.where(near & (phase < 2), phase + 1, phase).astype(np.int8)
            _new_goals(rng, pos, layouts, done, goal, phase)
        d = _expert_target(pos, goal, phase, layouts) - pos
        norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
        actions[:, t] = d / norm[:, None] * lengths[:, t, None]
        pos, _ = ph.step(pos, actions[:, t], layouts)
    return start, actions
