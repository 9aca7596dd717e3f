"""Kinematics of the simulated 6-joint arm (the Koch / SO-101 joint set).

Joints, in degrees: shoulder_pan (about the vertical axis), shoulder_lift (upper arm elevation
above the horizontal), elbow_flex and wrist_flex (relative pitch of the next link), wrist_roll
(about the gripper axis) and gripper (opening). Lengths are in metres; the base stands at the
origin of the table plane (x forward, y left, z up).
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)
SHOULDER_HEIGHT = 0.06
UPPER_ARM = 0.12
FOREARM = 0.12
HAND = 0.07  # wrist joint to fingertips
PALM = 0.035  # wrist joint to where the fingers start
GRIPPER_OPEN = 40.0  # degrees
FINGER_SPREAD = 0.0006  # metres of half-opening per degree of gripper
FINGER_MIN = 0.004  # half-opening when fully closed


class UnreachableError(ValueError):
    """A target position the arm cannot reach with the gripper pointing down."""


def forward(q: np.ndarray) -> dict[str, np.ndarray]:
    """3-D key points of the arm for joint angles ``q`` (..., 6) in degrees.

    Returns a dict of (..., 3) arrays: ``shoulder``, ``elbow``, ``wrist``, ``palm``, ``tip`` and
    the two fingertips ``finger_a`` / ``finger_b`` with their bases ``finger_a0`` / ``finger_b0``.
    """
    q = np.asarray(q, dtype=np.float64)
    pan, lift, elbow, wflex, roll, grip = np.moveaxis(np.deg2rad(q), -1, 0)
    phi1 = lift
    phi2 = phi1 + elbow
    phi3 = phi2 + wflex
    # reach r and height z of each point in the arm's vertical plane
    r_e = UPPER_ARM * np.cos(phi1)
    z_e = SHOULDER_HEIGHT + UPPER_ARM * np.sin(phi1)
    r_w = r_e + FOREARM * np.cos(phi2)
    z_w = z_e + FOREARM * np.sin(phi2)
    c, s = np.cos(pan), np.sin(pan)

    def lift3(r: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.stack([r * c, r * s, z * np.ones_like(c)], axis=-1)

    axis = np.stack([np.cos(phi3) * c, np.cos(phi3) * s, np.sin(phi3)], axis=-1)  # (..., 3)
    side = np.stack([-s, c, np.zeros_like(c)], axis=-1)  # horizontal, normal to the arm plane
    normal = np.cross(axis, side)
    spread = np.cos(roll)[..., None] * side + np.sin(roll)[..., None] * normal
    half = (FINGER_MIN + FINGER_SPREAD * np.rad2deg(grip))[..., None]
    wrist = lift3(r_w, z_w)
    palm = wrist + PALM * axis
    tip = wrist + HAND * axis
    return {
        "shoulder": lift3(np.zeros_like(r_w), np.full_like(r_w, SHOULDER_HEIGHT)),
        "elbow": lift3(r_e, z_e),
        "wrist": wrist,
        "palm": palm,
        "tip": tip,
        "finger_a0": palm + half * spread,
        "finger_b0": palm - half * spread,
        "finger_a": tip + half * spread,
        "finger_b": tip - half * spread,
    }


def inverse(tip: np.ndarray, roll: np.ndarray | float = 0.0) -> np.ndarray:
    """Joint angles (..., 5) in degrees putting the fingertips at ``tip`` (..., 3), pointing down.

    The elbow is kept above the line from shoulder to wrist. Raises ``UnreachableError`` when a
    target lies outside the workspace. The gripper joint is not part of the result.
    """
    tip = np.asarray(tip, dtype=np.float64)
    pan = np.arctan2(tip[..., 1], tip[..., 0])
    r = np.hypot(tip[..., 0], tip[..., 1])
    dr = r
    dz = tip[..., 2] + HAND - SHOULDER_HEIGHT  # wrist above the tip by the hand's length
    d2 = dr**2 + dz**2
    cos_elbow = (d2 - UPPER_ARM**2 - FOREARM**2) / (2 * UPPER_ARM * FOREARM)
    if np.any(np.abs(cos_elbow) > 1.0) or np.any(r < 1e-6):
        raise UnreachableError(f"target(s) out of reach: {tip[np.abs(cos_elbow) > 1.0][:3]}")
    elbow = -np.arccos(cos_elbow)
    lift = np.arctan2(dz, dr) - np.arctan2(
        FOREARM * np.sin(elbow), UPPER_ARM + FOREARM * np.cos(elbow)
    )
    wflex = -np.pi / 2 - lift - elbow
    roll = np.broadcast_to(np.deg2rad(roll), pan.shape)
    return np.rad2deg(np.stack([pan, lift, elbow, wflex, roll], axis=-1))
