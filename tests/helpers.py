"""Small in-memory task used by the trainer and CLI tests (no files, no downloads)."""

from __future__ import annotations

import numpy as np

from jepa_bench.data.base import Batch, ProbeSuite, TaskSpec

WALL_DOOR_LIKE = TaskSpec(
    name="toy",
    version="toy-v1",
    obs_shape=(2, 65, 65),
    action_dim=2,
    seq_len=17,
    channel_groups={"agent": (0,), "wall": (1,)},
    static_groups=("wall",),
)


class ToyWindows:
    """A dot moving by its actions in a small image; location targets on request."""

    def __init__(self, n: int, seed: int, size: int = 16, t: int = 5, targets: bool = True):
        rng = np.random.default_rng(seed)
        self.actions = rng.uniform(-1, 1, (n, t - 1, 2)).astype(np.float32)
        start = rng.uniform(4, size - 5, (n, 1, 2))
        steps = np.concatenate([np.zeros((n, 1, 2)), np.cumsum(self.actions, 1)], 1)
        self.loc = np.clip(start + steps, 0, size - 1).astype(np.float32)
        self.size, self.targets = size, targets

    def __len__(self) -> int:
        return len(self.loc)

    def batch(self, idx: np.ndarray) -> Batch:
        loc = self.loc[idx]  # (B, T, 2)
        yy, xx = np.mgrid[0 : self.size, 0 : self.size]
        d2 = (xx - loc[..., 0, None, None]) ** 2 + (yy - loc[..., 1, None, None]) ** 2
        agent = np.exp(-d2 / 2.0).astype(np.float32)  # (B, T, S, S)
        wall = np.zeros_like(agent)
        wall[..., :, self.size // 2] = 1.0
        obs = np.stack([agent, wall], axis=2)  # (B, T, 2, S, S)
        tg = {"location": loc} if self.targets else {}
        return Batch(obs=obs, actions=self.actions[idx], targets=tg)


class ToyTask:
    """A Task over ToyWindows, 16x16 images, 5 frames."""

    def __init__(self, budget: str = "smoke", seed: int = 0, data_dir: str | None = None, **kw):
        self.spec = TaskSpec(
            "toy", "toy-v1", (2, 16, 16), 2, 5, {"agent": (0,), "wall": (1,)}, ("wall",)
        )
        self.n = int(kw.get("n", 32))

    def train_set(self) -> ToyWindows:
        return ToyWindows(self.n, seed=1, targets=False)

    def probe_suites(self) -> list[ProbeSuite]:
        mean, std = np.array([8.0, 8.0]), np.array([4.0, 4.0])
        return [
            ProbeSuite(
                "location",
                ("location",),
                ToyWindows(self.n, 2),
                {"normal": ToyWindows(16, 3)},
                target_norm=(mean, std),
            )
        ]

    def describe(self) -> dict[str, object]:
        return {"n": self.n}
