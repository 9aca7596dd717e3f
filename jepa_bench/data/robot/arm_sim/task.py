"""The ``arm_sim`` task: simulated pick-and-place, read exactly as ``koch_pick_place`` reads files.

Registered separately from ``koch_pick_place`` so that leaderboard numbers never mix simulated and
real data. Data are generated on first use (not when the task object is built), cached under
``<data_dir>/arm_sim/``.
"""

from __future__ import annotations

import os
from typing import Any, TypedDict

from jepa_bench.config import BUDGET_NAMES, check_choice
from jepa_bench.data.base import ProbeSuite, TaskSpec, cache_root
from jepa_bench.data.robot.arm_sim.dataset import DATA_SEED, SIM_VERSION, ensure_sim_data
from jepa_bench.data.robot.arm_sim.kinematics import JOINT_NAMES
from jepa_bench.data.robot.split import SPLIT_SEED, TRAIN_SPLIT
from jepa_bench.data.robot.task import RobotTask
from jepa_bench.data.robot.windows import RobotWindows, WindowShape

# Episodes, square image size and episode duration factor per budget. Episodes last about
# 150-250 frames at duration_scale 1 (5-8 s at 30 fps).
SIZES: dict[str, dict[str, Any]] = {
    "smoke": dict(episodes=4, image_size=32, duration_scale=0.35),
    "default": dict(episodes=100, image_size=64, duration_scale=1.0),
    "full": dict(episodes=500, image_size=96, duration_scale=1.0),
}


class SimSizes(TypedDict):
    """The generated data set's size options (keyword arguments of ``ensure_sim_data``)."""

    episodes: int
    image_size: int
    duration_scale: float


class ArmSimTask:
    """Simulated arm recordings as a robot task; the spec is known before any data exist."""

    def __init__(
        self,
        budget: str = "default",
        seed: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        episodes: int,
        image_size: int,
        duration_scale: float,
        data_seed: int = DATA_SEED,
        keep_lerobot: bool = True,
        **window_kwargs: Any,
    ) -> None:
        for name, v in (("episodes", episodes), ("image_size", image_size)):
            if (
                isinstance(v, bool)
                or not isinstance(v, int)
                or v < (2 if name == "episodes" else 16)
            ):
                low = 2 if name == "episodes" else 16
                raise ValueError(f"arm_sim {name} must be an integer >= {low}, got {v!r}")
        if not duration_scale > 0:
            raise ValueError(f"arm_sim duration_scale must be positive, got {duration_scale!r}")
        self.budget, self.seed = budget, seed
        self.root = cache_root(data_dir)
        self.sizes = SimSizes(
            episodes=episodes, image_size=image_size, duration_scale=duration_scale
        )
        self.data_seed = int(data_seed)
        self.keep_lerobot = keep_lerobot
        self.window_kwargs = window_kwargs
        shape = WindowShape(
            window_kwargs.get("frameskip", 5),
            window_kwargs.get("history_size", 3),
            window_kwargs.get("num_preds", 1),
        )
        self.spec = TaskSpec(
            name="arm_sim",
            version=SIM_VERSION,
            obs_shape=(3, image_size, image_size),
            action_dim=shape.frameskip * len(JOINT_NAMES),
            seq_len=shape.seq_len,
            channel_groups={"rgb": (0, 1, 2)},
            proprio_dim=len(JOINT_NAMES),
        )
        self._task: RobotTask | None = None
        self.built: bool | None = None

    @property
    def task(self) -> RobotTask:
        """The robot task over the generated file (generating and converting it on first use)."""
        if self._task is None:
            path, self.built = ensure_sim_data(
                self.root, data_seed=self.data_seed, keep_lerobot=self.keep_lerobot, **self.sizes
            )
            self._task = RobotTask(
                "arm_sim",
                SIM_VERSION,
                path,
                budget=self.budget,
                seed=self.seed,
                provenance={"simulator": SIM_VERSION, "data_seed": self.data_seed, **self.sizes},
                **self.window_kwargs,
            )
            if self._task.spec != self.spec:
                raise RuntimeError(f"arm_sim data do not match the task spec: {self._task.spec}")
        return self._task

    def train_set(self) -> RobotWindows:
        return self.task.train_set()

    def probe_suites(self) -> list[ProbeSuite]:
        return self.task.probe_suites()

    def data_sha256(self) -> str:
        return self.task.data_sha256()

    def describe(self) -> dict[str, object]:
        return {**self.task.describe(), "generated_this_run": self.built}


def arm_sim(
    budget: str = "default",
    seed: int = 0,
    data_dir: str | None = None,
    *,
    episodes: int | None = None,
    image_size: int | None = None,
    duration_scale: float | None = None,
    data_seed: int = DATA_SEED,
    frameskip: int = 5,
    history_size: int = 3,
    num_preds: int = 1,
    train_split: float = TRAIN_SPLIT,
    split_seed: int = SPLIT_SEED,
    cache: bool | str = "auto",
    probe_stride: int | None = None,
    keep_lerobot: bool = True,
) -> ArmSimTask:
    """Simulated 6-joint arm doing pick-and-place, recorded as LeRobot v3.0 and converted to HDF5.

    ``episodes``, ``image_size`` and ``duration_scale`` override the budget's ``SIZES`` entry;
    the other options are those of ``koch_pick_place``.
    """
    check_choice("budget", budget, BUDGET_NAMES)
    sizes = dict(SIZES[budget])
    for name, value in (
        ("episodes", episodes),
        ("image_size", image_size),
        ("duration_scale", duration_scale),
    ):
        if value is not None:
            sizes[name] = value
    return ArmSimTask(
        budget,
        seed,
        data_dir,
        data_seed=data_seed,
        keep_lerobot=keep_lerobot,
        frameskip=frameskip,
        history_size=history_size,
        num_preds=num_preds,
        train_split=train_split,
        split_seed=split_seed,
        cache=cache,
        probe_stride=probe_stride,
        **sizes,
    )
