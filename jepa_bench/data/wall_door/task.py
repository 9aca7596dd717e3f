"""The ``wall_door`` task object: splits as window sets, probe suites, provenance."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from jepa_bench.config import BUDGET_NAMES, check_bool, check_choice, check_int
from jepa_bench.data.base import (
    Batch,
    PlanningSuite,
    ProbeSuite,
    TaskSpec,
    TensorBatch,
    cache_root,
)
from jepa_bench.data.hashing import DATA_HASH_KEY, arrays_sha256
from jepa_bench.data.wall_door import cache as cache_mod
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.data.wall_door.actions import STEP_HI
from jepa_bench.data.wall_door.env import WallDoorEnv
from jepa_bench.data.wall_door.episodes import EPISODE_SEED, episode_sets
from jepa_bench.data.wall_door.generate import (
    DATA_SEED,
    EXPERT_SEQ_LEN,
    SEQ_LEN,
    SIZES,
    SPLITS,
    TASK_VERSION,
    generate_all,
)
from jepa_bench.data.wall_door.oracle import oracle_cost, random_actions
from jepa_bench.data.wall_door.render import render, render_torch

# Location normaliser of the DL25SP evaluator (per coordinate x, y).
LOCATION_MEAN = np.array([31.5863, 32.0618], dtype=np.float32)
LOCATION_STD = np.array([16.1025, 16.1353], dtype=np.float32)


# Per-channel pixel mean / std of the observations (agent, wall), measured on generated training
# windows; tests/test_wall_door_task.py checks they still describe the data.
OBS_MEAN = (0.0025, 0.099)
OBS_STD = (0.035, 0.299)


class WallDoorWindows:
    """One split: compact trajectories rendered to observations batch by batch."""

    def __init__(self, name: str, arrays: dict[str, np.ndarray], with_targets: bool) -> None:
        self.name = name
        self.locations = arrays["locations"]  # (N, T, 2) float32
        self.actions = arrays["actions"]  # (N, T-1, 2) float32
        self.layouts = arrays["layouts"]  # (N, 2) int16: wall_x, door_y
        self.kinds = arrays["kinds"]  # (N,) int8, see generate.EXPLORE ...
        self.with_targets = with_targets
        self._on_device: dict[str, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return int(self.locations.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.locations.shape[1])

    def batch(self, idx: np.ndarray) -> Batch:
        """The trajectories at ``idx`` rendered to (B, T, 2, 65, 65) float32 in [0, 1]."""
        idx = np.asarray(idx)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(
                f"{self.name}: idx must be a 1-D integer array, got {idx.dtype} {idx.shape}"
            )
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(
                f"{self.name}: indices must lie in [0, {n}); got {idx.min()}..{idx.max()}"
            )
        locs = self.locations[idx]
        targets = {"location": locs.copy()} if self.with_targets else {}
        return Batch(
            obs=render(locs, self.layouts[idx]), actions=self.actions[idx].copy(), targets=targets
        )

    def device_batch(self, idx: np.ndarray, device: torch.device) -> TensorBatch:
        """``batch`` made on ``device``: the compact arrays are moved there once, and frames are
        rendered there (no host rendering or copying per batch)."""
        key = str(device)
        if key not in self._on_device:
            self._on_device[key] = {
                name: torch.from_numpy(np.ascontiguousarray(a)).to(device)
                for name, a in (
                    ("locations", self.locations),
                    ("actions", self.actions),
                    ("layouts", self.layouts),
                )
            }
        arrays = self._on_device[key]
        i = torch.as_tensor(np.asarray(idx, dtype=np.int64), device=device)
        locs = arrays["locations"][i]
        targets = {"location": locs} if self.with_targets else {}
        return TensorBatch(render_torch(locs, arrays["layouts"][i]), arrays["actions"][i], targets)


class WallDoorTask:
    """Agent-in-two-rooms task; data are generated (or read from the cache) on first use."""

    def __init__(
        self,
        budget: str = "default",
        seed: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        data_seed: int = DATA_SEED,
        sizes: dict[str, int] | None = None,
        cache: bool = True,
    ) -> None:
        self.budget = budget
        self.seed = seed  # the run seed; it does not change the data
        self.data_seed = int(data_seed)
        self.sizes = dict(SIZES[budget] if sizes is None else sizes)
        unknown = set(self.sizes) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown wall_door split(s) {sorted(unknown)}; known: {list(SPLITS)}")
        bad = {
            k: v
            for k, v in self.sizes.items()
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
        }
        if bad:
            raise ValueError(f"wall_door split sizes must be positive integers; got {bad}")
        self.sizes = {k: int(v) for k, v in self.sizes.items()}
        missing = set(SPLITS) - set(self.sizes)
        if missing:
            raise ValueError(f"wall_door sizes lack split(s) {sorted(missing)}")
        self.use_cache = cache
        self.cache_path = cache_mod.cache_path(self.data_seed, self.sizes, data_dir)
        self.spec = TaskSpec(
            name="wall_door",
            version=TASK_VERSION,
            obs_shape=(2, 65, 65),
            action_dim=2,
            seq_len=SEQ_LEN,
            channel_groups={"agent": (0,), "wall": (1,)},
            static_groups=("wall",),
            obs_mean=OBS_MEAN,
            obs_std=OBS_STD,
        )
        self._splits: dict[str, dict[str, np.ndarray]] | None = None
        self.built = False  # whether the last load generated the data (vs. read the cache)
        self._data_sha: str | None = None

    def splits(self) -> dict[str, dict[str, np.ndarray]]:
        """Compact arrays of every split, generated or read from the cache once."""
        if self._splits is None:
            build = lambda: generate_all(self.sizes, self.data_seed)  # noqa: E731
            if self.use_cache:
                key = cache_mod.cache_key(self.data_seed, self.sizes)
                self._splits, self.built = cache_mod.load_or_build(self.cache_path, key, build)
            else:
                self._splits, self.built = build(), True
        return self._splits

    def data_sha256(self) -> str:
        """Hex SHA-256 of the split arrays in memory (computed from the data, whatever the cache
        file's own checksums say); the record stores it and ``verify`` recomputes it."""
        if self._data_sha is None:
            splits = self.splits()
            self._data_sha = arrays_sha256(
                (f"{s}/{f}", splits[s][f]) for s in sorted(splits) for f in sorted(splits[s])
            )
        return self._data_sha

    def windows(self, split: str, with_targets: bool = True) -> WallDoorWindows:
        """One split as a window set (``train`` never carries targets)."""
        if split not in SPLITS:
            raise KeyError(f"unknown wall_door split {split!r}; known: {', '.join(SPLITS)}")
        return WallDoorWindows(split, self.splits()[split], with_targets and split != "train")

    def train_set(self) -> WallDoorWindows:
        """Training windows: observations and actions only, no locations."""
        return self.windows("train", with_targets=False)

    def probe_suites(self) -> list[ProbeSuite]:
        """The DL25SP probes: location (normal, wall, wall_other) and expert (long horizon)."""

        def location_probe(name: str, train: str, evals: dict[str, str]) -> ProbeSuite:
            return ProbeSuite(
                name=name,
                targets=("location",),
                train=self.windows(train),
                evals={split: self.windows(source) for split, source in evals.items()},
                mode="rollout",
                head="mlp",
                metric="mse_px2",
                target_norm=(LOCATION_MEAN.copy(), LOCATION_STD.copy()),
            )

        return [
            location_probe(
                "location",
                "probe_normal_train",
                {
                    "normal": "probe_normal_val",
                    "wall": "probe_wall_val",
                    "wall_other": "probe_wall_other_val",
                },
            ),
            location_probe("expert", "probe_expert_train", {"expert": "probe_expert_val"}),
        ]

    def planning(self) -> PlanningSuite:
        """The planning environment, the fixed same-room / cross-room episodes, the oracle's
        true cost and exploration-like random actions."""
        return PlanningSuite(
            make_env=WallDoorEnv,
            episodes=episode_sets,
            oracle_cost=oracle_cost,  # type: ignore[arg-type]  # takes the WallDoorEnv it made
            random_actions=random_actions,
            action_dim=2,
            max_action_norm=STEP_HI,  # the data's longest step
            episode_seed=EPISODE_SEED,
        )

    def describe(self) -> dict[str, object]:
        """Sizes, version, data seed, cache path, layout split and the data's hash, JSON-able."""
        data_sha = self.data_sha256()  # loads (or generates) the data first
        return {
            "version": TASK_VERSION,
            "budget": self.budget,
            "data_seed": self.data_seed,
            "sizes": dict(self.sizes),
            "seq_len": SEQ_LEN,
            "expert_seq_len": EXPERT_SEQ_LEN,
            "held_out_layouts": {"wall_x": ph.HELD_OUT_WALL_X, "door_y": ph.HELD_OUT_DOOR_Y},
            "cache_path": str(self.cache_path) if self.use_cache else None,
            "generated_this_run": self.built if self._splits is not None else None,
            DATA_HASH_KEY: data_sha,
        }


def wall_door(
    budget: str = "default",
    seed: int = 0,
    data_dir: str | None = None,
    **overrides: object,
) -> WallDoorTask:
    """2-D agent in a 65x65 two-room world with a wall and a door (DL25SP spec).

    ``overrides``: ``data_seed`` (default: the version's fixed ``DATA_SEED``), ``cache`` (bool),
    and split sizes by name (e.g. ``train=500``), applied on top of the budget's table.
    """
    check_choice("budget", budget, BUDGET_NAMES)
    opts = dict(overrides)
    data_seed = check_int("data_seed", opts.pop("data_seed", DATA_SEED), 0)
    cache = check_bool("cache", opts.pop("cache", True))
    sizes = dict(SIZES[budget])
    for name, value in opts.items():
        if name not in SPLITS:
            known = ["data_seed", "cache", *SPLITS]
            raise TypeError(f"wall_door got an unknown option {name!r}; known: {', '.join(known)}")
        sizes[name] = check_int(name, value, 1)
    return WallDoorTask(budget, seed, data_dir, data_seed=data_seed, sizes=sizes, cache=cache)


def default_cache_dir() -> Path:
    """The cache folder used when no ``data_dir`` is given."""
    return cache_root(None) / "wall_door"
