"""A task in one file: a dot pushed around a 16x16 frame; the probe reads its position back.

Registered with one line (see docs/extending.md):
    TASKS.add("moving_dot", "examples.extend.moving_dot:moving_dot")
"""

from __future__ import annotations

import numpy as np

from jepa_bench.data.base import Batch, ProbeSuite, TaskSpec

SIZE, FRAMES = 16, 6
SPLITS = {"train": 64, "probe_train": 32, "probe_val": 16}  # windows per split (every budget)


class DotWindows:
    """Trajectories of one split, rendered on demand: (B, T, 1, 16, 16) frames."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        start = rng.uniform(4, SIZE - 4, size=(n, 1, 2))
        self.actions = rng.uniform(-1, 1, size=(n, FRAMES - 1, 2)).astype(np.float32)
        path = start + np.concatenate([np.zeros((n, 1, 2)), self.actions.cumsum(1)], axis=1)
        self.locations = np.clip(path, 1, SIZE - 2).astype(np.float32)  # (N, T, 2): x, y

    def __len__(self) -> int:
        return len(self.locations)

    def batch(self, idx: np.ndarray) -> Batch:
        loc = self.locations[idx]  # (B, T, 2)
        grid = np.arange(SIZE, dtype=np.float32)
        dx = grid[None, None, None, :] - loc[..., 0, None, None]  # (B, T, 1, W)
        dy = grid[None, None, :, None] - loc[..., 1, None, None]  # (B, T, H, 1)
        frames = np.exp(-(dx**2 + dy**2) / 2.0)[:, :, None]  # (B, T, 1, H, W)
        return Batch(frames.astype(np.float32), self.actions[idx], {"location": loc.copy()})


class MovingDot:
    """The task object: a spec, a training set and one location probe."""

    def __init__(self, seed: int) -> None:
        self.spec = TaskSpec("moving_dot", "moving_dot-v1", (1, SIZE, SIZE), 2, FRAMES)
        rng = np.random.default_rng(2025)  # the data never depend on the run seed
        self.splits = {name: DotWindows(rng, n) for name, n in SPLITS.items()}

    def train_set(self) -> DotWindows:
        return self.splits["train"]

    def probe_suites(self) -> list[ProbeSuite]:
        norm = (np.full(2, SIZE / 2, np.float32), np.full(2, SIZE / 4, np.float32))
        return [
            ProbeSuite("location", ("location",), self.splits["probe_train"],
                       {"dot": self.splits["probe_val"]}, target_norm=norm)
        ]  # fmt: skip

    def describe(self) -> dict[str, object]:
        return {"splits": SPLITS, "frames": FRAMES}


def moving_dot(budget: str = "default", seed: int = 0, data_dir: str | None = None) -> MovingDot:
    """A dot pushed around a 16x16 frame (a task in one file)."""
    return MovingDot(seed)
