"""What a task gives the trainer and the evaluator.

A task is data plus the names of its probe targets, and, if it has an interactive environment,
what planning needs (``PlanningSuite``). Observations reach models as float32 (B, T, C, H, W);
actions as float32 (B, T-1, A). Tasks know nothing of models or the evaluator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor

CACHE_ENV_VAR = "JEPA_BENCH_CACHE"

#: A planning cost: candidates (B, N, H, A) for B agents -> costs (B, N) float64, lower is better.
CostFn = Callable[[Tensor], Tensor]


class TaskDataError(RuntimeError):
    """A task's data could not be made or read (e.g. generation failed); the message says what
    failed and what to do. ``jepa-bench run`` reports it in one line (exit status 4)."""


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


@dataclass
class TensorBatch:
    """A batch as tensors on the device the model runs on."""

    obs: Tensor  # (B, T, C, H, W) float32
    actions: Tensor  # (B, T-1, A) float32
    targets: dict[str, Tensor] = field(default_factory=dict)  # name -> (B, T, K) float32

    def __len__(self) -> int:
        return int(self.obs.shape[0])


class WindowSet(Protocol):
    """A finite, indexable set of windows.

    A window set may also define ``device_batch(idx, device) -> TensorBatch`` to make batches
    on the device itself (wall_door renders its frames there); ``batch_on`` uses it on GPUs.
    """

    def __len__(self) -> int: ...

    def batch(self, idx: np.ndarray) -> Batch:
        """The windows at ``idx`` (1-D int array) as one batch."""
        ...


def to_device(batch: Batch, device: torch.device) -> TensorBatch:
    """A host batch on ``device`` (through pinned memory to a GPU, copied asynchronously)."""

    def move(x: np.ndarray) -> Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if device.type == "cuda":
            return t.pin_memory().to(device, non_blocking=True)
        return t.to(device)

    return TensorBatch(
        move(batch.obs), move(batch.actions), {k: move(v) for k, v in batch.targets.items()}
    )


def batch_on(
    ws: WindowSet, idx: np.ndarray, device: torch.device, on_device: bool | None = None
) -> TensorBatch:
    """The windows at ``idx`` as tensors on ``device``.

    ``on_device`` (default: on any device but the CPU) uses the window set's own
    ``device_batch`` when it has one; the CPU default is the host path, which is faster there.
    """
    make = getattr(ws, "device_batch", None)
    if make is not None and (device.type != "cpu" if on_device is None else on_device):
        return make(np.asarray(idx), device)
    return to_device(ws.batch(np.asarray(idx)), device)


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


class PlanningEnv(Protocol):
    """A task's interactive environment: agents with goals, moved one action at a time.

    Arrays are batched over agents: positions and goals (B, 2), observations (B, C, H, W).
    ``layout`` is an episode's fixed world (for wall_door, the wall's column and the door's row).
    """

    def reset(self, start: np.ndarray, goal: np.ndarray, layout: np.ndarray) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def observe(self) -> np.ndarray: ...

    def goal_observation(self) -> np.ndarray: ...

    def distance(self) -> np.ndarray: ...


@dataclass(frozen=True)
class Episodes:
    """``N`` start/goal pairs of one planning case, each in its layout, in a fixed order."""

    case: str
    starts: np.ndarray  # (N, 2) float32
    goals: np.ndarray  # (N, 2) float32
    layouts: np.ndarray  # (N, L): each episode's fixed world

    def __len__(self) -> int:
        return len(self.starts)


@dataclass(frozen=True)
class PlanningSuite:
    """What a task offers for planning; the planners themselves are generic (``planning/``).

    ``episodes(n, seed)``: ``n`` fixed episodes per case, keyed by case. ``oracle_cost(env,
    objective)``: the true cost of candidate action sequences (B, N, H, A) -> (B, N) from the
    state of each of ``env``'s B agents ("final": at the last step, "mean": over the horizon),
    the oracle's ceiling.
    ``random_actions(rng, n, steps)``: (n, steps, A) actions like the data's (the floor).
    """

    make_env: Callable[[], PlanningEnv]
    episodes: Callable[[int, int], dict[str, Episodes]]
    oracle_cost: Callable[[PlanningEnv, str], CostFn]
    random_actions: Callable[[np.random.Generator, int, int], np.ndarray]
    action_dim: int
    max_action_norm: float  # planners scale longer actions back to this length
    episode_seed: int  # the default seed of the episode set (fixed per task version)


class Task(Protocol):
    """A registered task, built for a budget and seed.

    A task with an interactive environment also defines ``planning() -> PlanningSuite``
    (see ``planning_suite``); that method is optional.
    """

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


def cache_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where tasks keep generated and converted data: ``data_dir`` if given, else
    ``$JEPA_BENCH_CACHE``, else ``~/.cache/jepa-bench``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "jepa-bench"


def planning_suite(task: Any) -> PlanningSuite | None:
    """What ``task`` offers for planning: its ``planning()``, or None when it has none."""
    offer = getattr(task, "planning", None)
    return offer() if callable(offer) else None
