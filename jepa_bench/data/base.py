"""What a task gives the trainer and the evaluator.

A task is data plus the names of its probe targets. Observations reach models as float32
(B, T, C, H, W); actions as float32 (B, T-1, A). Tasks know nothing of models or the evaluator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """Static facts about a task that models and the evaluator are built from."""

    name: str
    version: str  # changes whenever the data a seed produces changes
    obs_shape: tuple[int, int, int]  # (C, H, W)
    action_dim: int
    seq_len: int  # T: frames per training window
    # Channel groups a multi-branch encoder may treat separately: {"agent": (0,), "wall": (1,)}.
    channel_groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Groups whose content is constant within a window (may be encoded once per window).
    static_groups: tuple[str, ...] = ()
    proprio_dim: int = 0
    # Per-channel pixel statistics of the task's observations, for models that normalise inputs
    # (None: the model's own default, e.g. ImageNet statistics for RGB).
    obs_mean: tuple[float, ...] | None = None
    obs_std: tuple[float, ...] | None = None


@dataclass
class Batch:
    """A batch of windows as numpy arrays (converted to tensors by the trainer)."""

    obs: np.ndarray  # (B, T, C, H, W) float32
    actions: np.ndarray  # (B, T-1, A) float32
    targets: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (B, T, K) float32

    def __len__(self) -> int:
        return int(self.obs.shape[0])


class WindowSet(Protocol):
    """A finite, indexable set of windows."""

    def __len__(self) -> int: ...

    def batch(self, idx: np.ndarray) -> Batch:
        """The windows at ``idx`` (1-D int array) as one batch."""
        ...


@dataclass
class ProbeSuite:
    """One probe: trained on ``train``, scored on each of ``evals``.

    ``mode`` says which latents the probe reads: "rollout" (predicted from the first observation,
    the DL25SP protocol) or "encode" (each frame encoded). ``head`` is "mlp" (Linear-ReLU-Linear,
    DL25SP) or "linear". ``metric`` is "mse_px2" (per-coordinate MSE after undoing ``target_norm``)
    or "r2" (plus MSE) per target.
    """

    name: str
    targets: tuple[str, ...]
    train: WindowSet
    evals: dict[str, WindowSet]
    mode: Literal["rollout", "encode"] = "rollout"
    head: Literal["mlp", "linear"] = "mlp"
    metric: Literal["mse_px2", "r2"] = "mse_px2"
    target_norm: tuple[np.ndarray, np.ndarray] | None = None  # (mean, std) per target coordinate


class Task(Protocol):
    """A registered task, built for a budget and seed."""

    spec: TaskSpec

    def train_set(self) -> WindowSet: ...

    def probe_suites(self) -> list[ProbeSuite]: ...

    def describe(self) -> dict[str, object]:
        """JSON-able facts for the result record (sizes, cache path, provenance)."""
        ...


def iterate_batches(
    data: WindowSet,
    batch_size: int,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """Yield batches over ``data``, shuffled when ``rng`` is given."""
    n = len(data)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for lo in range(0, stop, batch_size):
        yield data.batch(order[lo : lo + batch_size])
