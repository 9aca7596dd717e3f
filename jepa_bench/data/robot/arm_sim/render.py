"""A small numpy renderer for the simulated arm: orthographic camera, z-buffered soft shapes.

Frames are drawn directly at the requested size (no upsampling step): a wooden table with the
green target square and soft shadows, the cube (three visible faces) and the arm as shaded
capsules (base, upper arm, forearm, hand, two fingers). Edges are anti-aliased over one pixel, so
small motions change pixels smoothly. Everything is vectorised over the frames of an episode.
"""

from __future__ import annotations

import numpy as np

from jepa_bench.data.robot.arm_sim import kinematics as kin
from jepa_bench.data.robot.arm_sim.policy import CUBE, Episode

ELEVATION = 50.0  # camera elevation above the table, degrees
AZIMUTH = 20.0  # camera direction around the vertical axis, degrees (0: facing the arm)
LOOK_AT = np.array([0.11, 0.0, 0.04])
VIEW_EXTENT = 0.31  # metres across the image
VIEW_SHIFT = (-0.012, 0.055)  # image centre relative to LOOK_AT (right, up), metres
TABLE = np.array([0.78, 0.64, 0.46])
TARGET = np.array([0.35, 0.75, 0.35])
CUBE_RGB = np.array([0.85, 0.15, 0.12])
LINKS = (  # (from, to, radius in metres, colour)
    ("shoulder", "elbow", 0.011, (0.95, 0.55, 0.10)),
    ("elbow", "wrist", 0.009, (0.95, 0.80, 0.20)),
    ("wrist", "palm", 0.008, (0.20, 0.35, 0.85)),
    ("finger_a0", "finger_a", 0.003, (0.15, 0.15, 0.18)),
    ("finger_b0", "finger_b", 0.003, (0.15, 0.15, 0.18)),
)
BASE_RGB = (0.25, 0.25, 0.28)


class Camera:
    """Orthographic camera: world (..., 3) -> pixel column, row and depth."""

    def __init__(self, size: int) -> None:
        el, az = np.deg2rad(ELEVATION), np.deg2rad(AZIMUTH)
        towards_camera = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        self.forward = -towards_camera
        right = np.cross(self.forward, [0.0, 0.0, 1.0])
        self.right = right / np.linalg.norm(right)
        self.up = np.cross(self.right, self.forward)
        self.centre = LOOK_AT + VIEW_SHIFT[0] * self.right + VIEW_SHIFT[1] * self.up
        self.size = size
        self.scale = size / VIEW_EXTENT  # pixels per metre

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel column, row (pixel centres at integers) and depth (metres), as float32."""
        d = np.asarray(p, dtype=np.float64) - self.centre
        col = self.size / 2 + (d @ self.right) * self.scale - 0.5
        row = self.size / 2 - (d @ self.up) * self.scale - 0.5
        f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        return f32(col), f32(row), f32(d @ self.forward)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    return cols[None], rows[None]  # (1, S, S)


def _capsule(cam, gx, gy, p0, p1, radius):
    """Coverage (T, S, S), depth and a shading factor of a 3-D capsule from p0 to p1 (T, 3)."""
    x0, y0, d0 = (a[:, None, None] for a in cam.project(p0))
    x1, y1, d1 = (a[:, None, None] for a in cam.project(p1))
    vx, vy = x1 - x0, y1 - y0
    length2 = np.maximum(vx**2 + vy**2, 1e-9)
    t = np.clip(((gx - x0) * vx + (gy - y0) * vy) / length2, 0.0, 1.0)
    dist = np.hypot(gx - (x0 + t * vx), gy - (y0 + t * vy))
    r = radius * cam.scale
    cover = np.clip(r + 0.5 - dist, 0.0, 1.0)
    bulge = np.sqrt(np.clip(1.0 - (dist / max(r, 1e-6)) ** 2, 0.0, 1.0))
    depth = d0 + t * (d1 - d0) - bulge * radius
    return cover, depth, 0.55 + 0.45 * bulge


def _polygon(gx, gy, xs, ys):
    """Coverage (T, S, S) of convex polygons with corners (T, K) given in either winding."""
    k = xs.shape[1]
    area = sum(xs[:, i] * ys[:, (i + 1) % k] - xs[:, (i + 1) % k] * ys[:, i] for i in range(k))
    sign = np.where(area >= 0, 1.0, -1.0)[:, None, None]
    inside = np.full(np.broadcast_shapes(gx.shape, (len(xs), 1, 1)), np.inf, dtype=np.float32)
    for i in range(k):
        ax, ay = xs[:, i, None, None], ys[:, i, None, None]
        bx, by = xs[:, (i + 1) % k, None, None], ys[:, (i + 1) % k, None, None]
        ex, ey = bx - ax, by - ay
        norm = np.maximum(np.hypot(ex, ey), 1e-9)
        signed = sign * (ex * (gy - ay) - ey * (gx - ax)) / norm  # > 0 inside
        inside = np.minimum(inside, signed)
    return np.clip(inside + 0.5, 0.0, 1.0)


def _shadows(img, cam, gx, gy, ep, palm):
    """Darken the table under the cube and the hand; wider and fainter with height."""
    for p, r in ((ep.cube.astype(np.float64), 0.6 * CUBE), (palm, 0.012)):
        sx, sy, _ = cam.project(p * np.array([1.0, 1.0, 0.0]))
        h = np.clip(p[:, 2], 0.0, None).astype(np.float32)
        rad = ((r + 0.3 * h) * cam.scale)[:, None, None]
        dist = np.hypot(gx - sx[:, None, None], gy - sy[:, None, None])
        strength = (0.35 / (1.0 + 20.0 * h))[:, None, None]
        cover = strength * np.clip(1.0 - dist / rad, 0.0, 1.0) ** 0.7
        img *= 1.0 - cover[..., None]


class Canvas:
    """Frames (T, S, S, 3) float32 with a depth buffer; shapes are blended where they cover."""

    def __init__(self, background: np.ndarray) -> None:
        self.img = background
        self.zbuf = np.full(background.shape[:3], np.inf, dtype=np.float32)

    def draw(self, cover, depth, rgb, lit=None) -> None:
        """Blend colour ``rgb`` (3,) times ``lit`` (T, S, S) where ``cover`` > 0 and in front."""
        hit = (cover > 0) & (depth < self.zbuf)
        a = cover[hit][:, None]  # (P, 1)
        col = np.asarray(rgb, dtype=np.float32)[None]
        if lit is not None:
            col = col * lit[hit][:, None]
        self.img[hit] = self.img[hit] * (1.0 - a) + a * col
        self.zbuf[hit] = np.where(a[:, 0] > 0.5, depth[hit], self.zbuf[hit])


def render_episode(ep: Episode, size: int) -> np.ndarray:
    """Frames (T, S, S, 3) uint8 of an episode, drawn at ``size`` x ``size`` pixels."""
    if size < 16:
        raise ValueError(f"image size must be at least 16 pixels, got {size}")
    cam = Camera(size)
    gx, gy = _grid(size)
    n = len(ep)
    pts = kin.forward(ep.proprio.astype(np.float64))
    shade = 0.92 + 0.08 * (gy[0] / size)  # (S, S): light falls off toward the far edge
    table = (TABLE * shade[..., None]).astype(np.float32)  # (S, S, 3)
    half = 0.6 * CUBE
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    sq = np.concatenate([ep.target[None, :2] + corners, np.zeros((4, 1))], axis=1)  # (4, 3)
    cx, cy, _ = cam.project(sq)
    mark = _polygon(gx, gy, cx[None], cy[None])[0, ..., None]  # (S, S, 1): the target square
    table = table * (1.0 - mark) + mark * TARGET.astype(np.float32)
    canvas = Canvas(np.repeat(table[None], n, axis=0))
    _shadows(canvas.img, cam, gx, gy, ep, pts["palm"])

    # the cube: the three faces that face the camera, shaded by their orientation
    cube = ep.cube.astype(np.float64)
    for axis in range(3):
        normal = np.zeros(3)
        normal[axis] = 1.0 if cam.forward[axis] < 0 else -1.0
        u, v = np.eye(3)[[i for i in range(3) if i != axis]]
        centre = cube + normal * CUBE / 2  # (T, 3)
        quad = [
            centre + (a * u + b * v) * CUBE / 2 for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
        proj = [cam.project(c) for c in quad]
        xs = np.stack([p[0] for p in proj], 1)
        ys = np.stack([p[1] for p in proj], 1)
        depth = np.broadcast_to(cam.project(centre)[2][:, None, None], (n, size, size))
        light = 0.55 + 0.45 * max(0.0, float(normal @ np.array([0.3, 0.4, 0.87])))
        canvas.draw(_polygon(gx, gy, xs, ys), depth, CUBE_RGB * light)
    # the arm: a base column, then the links
    base_top = np.tile([0.0, 0.0, kin.SHOULDER_HEIGHT], (n, 1))
    pts["floor"] = base_top * np.array([1.0, 1.0, 0.0])
    pts["base"] = base_top
    for a, b, radius, rgb in (("floor", "base", 0.022, BASE_RGB), *LINKS):
        cover, depth, lit = _capsule(cam, gx, gy, pts[a], pts[b], radius)
        canvas.draw(cover, depth, rgb, lit)
    img = canvas.img
    img *= ep.light
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
