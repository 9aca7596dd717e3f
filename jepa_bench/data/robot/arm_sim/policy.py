"""A scripted pick-and-place policy with noise, and the arm and object it drives.

Each episode: the arm starts near a home pose, moves above a cube, descends, closes the gripper,
lifts, carries the cube above a green target square, lowers it, opens, retreats and returns home.
Waypoints, speeds, pauses, wrist roll and the home pose are drawn per episode; actions (joint
targets in degrees, like a leader arm's readings) carry smooth and white noise. The follower arm
moves toward the action with a first-order lag and a speed limit; the cube is carried while the
closed gripper holds it and falls when released.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jepa_bench.data.robot.arm_sim import kinematics as kin

FPS = 30
CUBE = 0.03  # cube side, metres
TABLE_R = (0.10, 0.19)  # reach range of cube and target positions
TABLE_ANGLE = 55.0  # degrees either side of straight ahead
MIN_PLACE_DIST = 0.07
HOVER_Z = 0.075
GRASP_Z = 0.012
PLACE_Z = 0.036
GAIN = 0.4  # follower: fraction of the remaining error closed per frame
MAX_STEP = 8.0  # follower: degrees per frame
GRASP_DEG = (CUBE / 2 - kin.FINGER_MIN) / kin.FINGER_SPREAD  # opening that touches the cube
GRAVITY = 9.81


@dataclass
class Episode:
    """One simulated episode: per-frame arrays and the scene's fixed parts."""

    proprio: np.ndarray  # (T, 6) float32, follower joint angles (degrees) at each frame
    action: np.ndarray  # (T, 6) float32, joint targets sent at each frame
    cube: np.ndarray  # (T, 3) float32, cube centre (metres): the state
    target: np.ndarray  # (3,) float32, centre of the target square on the table
    light: float  # scene brightness factor

    def __len__(self) -> int:
        return int(len(self.proprio))


def _min_jerk(n: int) -> np.ndarray:
    tau = np.linspace(0.0, 1.0, n + 1)[1:]
    return 10 * tau**3 - 15 * tau**4 + 6 * tau**5


def _table_point(rng: np.random.Generator) -> np.ndarray:
    r = rng.uniform(*TABLE_R)
    a = np.deg2rad(rng.uniform(-TABLE_ANGLE, TABLE_ANGLE))
    return np.array([r * np.cos(a), r * np.sin(a), CUBE / 2])


def _plan(rng: np.random.Generator, cube: np.ndarray, target: np.ndarray, scale: float):
    """Per-frame tip position (T, 3), wrist roll (T,) and gripper command (T,)."""
    speed = rng.uniform(0.12, 0.2) / FPS  # metres per frame
    home = np.array([rng.uniform(0.09, 0.12), rng.uniform(-0.03, 0.03), rng.uniform(0.09, 0.11)])
    jitter = lambda: np.append(rng.normal(0.0, 0.003, 2), 0.0)  # noqa: E731
    grab = cube + jitter()
    drop = target + jitter()
    roll_a, roll_b = rng.uniform(-30, 30, 2)
    # (tip, roll, gripper) waypoints; a waypoint equal to the previous one is a pause
    steps = [
        (home, roll_a, 10.0),
        (np.r_[grab[:2], HOVER_Z], roll_a, kin.GRIPPER_OPEN),
        (np.r_[grab[:2], GRASP_Z], roll_a, kin.GRIPPER_OPEN),
        (np.r_[grab[:2], GRASP_Z], roll_a, 0.0),
        (np.r_[grab[:2], HOVER_Z + 0.005], roll_a, 0.0),
        (np.r_[drop[:2], HOVER_Z + 0.005], roll_b, 0.0),
        (np.r_[drop[:2], PLACE_Z], roll_b, 0.0),
        (np.r_[drop[:2], PLACE_Z], roll_b, kin.GRIPPER_OPEN),
        (np.r_[drop[:2], HOVER_Z], roll_b, kin.GRIPPER_OPEN),
        (home, 0.0, 10.0),
    ]
    parts = [_pause(rng, scale, home, roll_a, 10.0)]
    prev = steps[0]
    for cur in steps[1:]:
        dist = float(np.linalg.norm(cur[0] - prev[0]))
        n = dist / speed + (rng.uniform(8, 14) if dist < 1e-9 else rng.uniform(3, 8))
        s = _min_jerk(max(2, int(round(n * scale))))[:, None]  # (n, 1) progress 0 -> 1
        tip = prev[0] + s * (cur[0] - prev[0])
        roll = prev[1] + s[:, 0] * (cur[1] - prev[1])
        grip = prev[2] + s[:, 0] * (cur[2] - prev[2])
        parts.append((tip, roll, grip))
        prev = cur
    parts.append(_pause(rng, scale, home, 0.0, 10.0))
    tips, rolls, grips = (np.concatenate(p) for p in zip(*parts))
    return tips, rolls, grips


def _pause(rng: np.random.Generator, scale: float, tip: np.ndarray, roll: float, grip: float):
    """A few frames standing still at ``tip``: (n, 3) tips, (n,) rolls, (n,) gripper."""
    n = max(2, int(round(rng.integers(4, 10) * scale)))
    return np.tile(tip, (n, 1)), np.full(n, float(roll)), np.full(n, grip)


def _noise(rng: np.random.Generator, n: int, smooth_std: float, white_std: float) -> np.ndarray:
    """(n, 6) AR(1) noise of stationary std ``smooth_std`` plus white noise."""
    rho = 0.9
    eps = rng.normal(0.0, smooth_std * np.sqrt(1 - rho**2), (n, 6))
    out = np.empty((n, 6))
    out[0] = rng.normal(0.0, smooth_std, 6)
    for t in range(1, n):
        out[t] = rho * out[t - 1] + eps[t]
    return out + rng.normal(0.0, white_std, (n, 6))


def simulate_episode(rng: np.random.Generator, duration_scale: float = 1.0) -> Episode:
    """Draw a scene and run the scripted policy on it (``duration_scale`` < 1: faster episodes)."""
    if duration_scale <= 0:
        raise ValueError(f"duration_scale must be positive, got {duration_scale}")
    cube0 = _table_point(rng)
    target = _table_point(rng)
    while np.linalg.norm(target[:2] - cube0[:2]) < MIN_PLACE_DIST:
        target = _table_point(rng)
    tip, roll, grip = _plan(rng, cube0, target, duration_scale)
    n = len(tip)
    action = np.concatenate([kin.inverse(tip, roll), grip[:, None]], axis=1)  # (T, 6)
    action = action + _noise(rng, n, smooth_std=1.0, white_std=0.3)
    action[:, 5] = np.clip(action[:, 5], 0.0, kin.GRIPPER_OPEN + 5.0)

    q = np.empty((n, 6))
    cube = np.empty((n, 3))
    q[0] = action[0] + rng.normal(0.0, 1.0, 6)
    q[0, 5] = np.clip(q[0, 5], 0.0, None)
    pos, vz, held, offset = cube0.copy(), 0.0, False, np.zeros(3)
    for t in range(n):
        cube[t] = pos
        if t == n - 1:
            break
        step = np.clip(GAIN * (action[t] - q[t]), -MAX_STEP, MAX_STEP)
        nxt = q[t] + step
        tip_t = kin.forward(nxt)["tip"]
        if held:
            if action[t, 5] > GRASP_DEG + 4:  # the gripper opens: the cube falls
                held = False
            else:
                nxt[5] = max(nxt[5], GRASP_DEG)
                pos = tip_t + offset
        elif nxt[5] < GRASP_DEG and q[t, 5] >= GRASP_DEG:
            near = np.linalg.norm(tip_t[:2] - pos[:2]) < 0.012 and abs(tip_t[2] - pos[2]) < 0.015
            if near:
                held, offset = True, pos - tip_t
                nxt[5] = GRASP_DEG
                vz = 0.0
        if not held and pos[2] > CUBE / 2:
            vz += GRAVITY / FPS**2
            pos = pos.copy()
            pos[2] = max(CUBE / 2, pos[2] - vz)
        q[t + 1] = nxt
    light = float(rng.uniform(0.9, 1.1))
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    return Episode(f32(q), f32(action), f32(cube), f32(target), light)
