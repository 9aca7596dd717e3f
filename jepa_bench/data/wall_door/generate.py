"""Split generation: which trajectories each split holds, how many per budget, from which seed.

Splits are stored compactly (locations, actions, layouts and a per-trajectory ``kind``) and
rendered per batch. Generation is deterministic from ``data_seed``: every split and every chunk of
``CHUNK`` trajectories draws from its own ``SeedSequence([data_seed, split, chunk])``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from jepa_bench.data.wall_door import actions as act
from jepa_bench.data.wall_door import physics as ph
from jepa_bench.workers import ordered_map, resolve_workers

# Bump whenever the data a seed produces changes (physics, generators, sizes' meaning, seeds).
TASK_VERSION = "wall_door-v1"
DATA_SEED = 2025  # fixed per version: every run of the task sees the same data
SEQ_LEN = 17  # frames per trajectory in train / probe_normal / probe_wall(_other)
EXPERT_SEQ_LEN = 33  # frames per probe_expert trajectory (the long-horizon probe)
CHUNK = 8192  # trajectories per generation chunk (part of the seeding scheme)
PROGRESS_MIN = 20_000  # show a progress bar for splits at least this large

# kinds of trajectory, stored per trajectory
EXPLORE, CROSSING, WALL_RUN, EXPERT = 0, 1, 2, 3

# Number of trajectories per split and budget. "default" is sized for a 10-minute CPU run;
# "full" matches the course data's scale (~147,000 training trajectories, ~10,000 probe train).
SIZES: dict[str, dict[str, int]] = {
    "smoke": {
        "train": 64,
        "probe_normal_train": 64,
        "probe_normal_val": 32,
        "probe_wall_val": 32,
        "probe_wall_other_val": 32,
        "probe_expert_train": 32,
        "probe_expert_val": 16,
    },
    "default": {
        "train": 4000,
        "probe_normal_train": 2000,
        "probe_normal_val": 500,
        "probe_wall_val": 500,
        "probe_wall_other_val": 500,
        "probe_expert_train": 1000,
        "probe_expert_val": 250,
    },
    "full": {
        "train": 147_000,
        "probe_normal_train": 10_000,
        "probe_normal_val": 2000,
        "probe_wall_val": 2000,
        "probe_wall_other_val": 2000,
        "probe_expert_train": 5000,
        "probe_expert_val": 1000,
    },
}


@dataclass(frozen=True)
class SplitDef:
    """How one split is made: its trajectory family, layout pool and length."""

    family: str  # "explore" | "wall_run" | "expert"
    held_out: bool  # layouts from the held-out pool (probe_wall_other) or the training pool
    seq_len: int


SPLITS: dict[str, SplitDef] = {
    "train": SplitDef("explore", False, SEQ_LEN),
    "probe_normal_train": SplitDef("explore", False, SEQ_LEN),
    "probe_normal_val": SplitDef("explore", False, SEQ_LEN),
    "probe_wall_val": SplitDef("wall_run", False, SEQ_LEN),
    "probe_wall_other_val": SplitDef("wall_run", True, SEQ_LEN),
    "probe_expert_train": SplitDef("expert", False, EXPERT_SEQ_LEN),
    "probe_expert_val": SplitDef("expert", False, EXPERT_SEQ_LEN),
}
FIELDS = ("locations", "actions", "layouts", "kinds")


def _explore(rng: np.random.Generator, layouts: np.ndarray, steps: int):
    """Random exploration with a ``CROSS_WALL_RATE`` share of door crossings, shuffled."""
    n = len(layouts)
    n_cross = int(round(n * act.CROSS_WALL_RATE))
    start, actions = act.random_walk(rng, layouts, steps)
    kinds = np.full(n, EXPLORE, dtype=np.int8)
    cross = rng.permutation(n)[:n_cross]
    todo = cross
    for _ in range(100):  # redraw crossings that are invalid (start in the wall) or do not cross
        if len(todo) == 0:
            break
        s, a = act.door_crossing(rng, layouts[todo], steps)
        start[todo], actions[todo] = s, a
        locs = ph.simulate(s, a, layouts[todo])
        ok = ph.crosses_wall(locs, layouts[todo]) & ~ph.in_wall(s[:, None], layouts[todo])[:, 0]
        todo = todo[~ok]
    if len(todo):
        raise RuntimeError(f"{len(todo)} door-crossing trajectories failed to cross after retries")
    kinds[cross] = CROSSING
    return start, actions, kinds


def _family(name: str) -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if name == "explore":
        return _explore
    single = {"wall_run": (act.wall_run, WALL_RUN), "expert": (act.expert, EXPERT)}[name]

    def run(rng, layouts, steps):
        start, actions = single[0](rng, layouts, steps)
        return start, actions, np.full(len(layouts), single[1], dtype=np.int8)

    return run


def generate_chunk(split: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` trajectories of ``split`` drawn from ``rng``."""
    sd = SPLITS[split]
    layouts = ph.sample_layouts(rng, n, held_out=sd.held_out)
    start, actions, kinds = _family(sd.family)(rng, layouts, sd.seq_len - 1)
    locations = ph.simulate(start, actions, layouts)
    return {"locations": locations, "actions": actions, "layouts": layouts, "kinds": kinds}


def _chunk(split: str, data_seed: int, i: int, n: int) -> dict[str, np.ndarray]:
    """Chunk ``i`` (``n`` trajectories) of ``split``: its own seed stream, so chunks can be made
    in any order, by any process, with the same result."""
    sid = list(SPLITS).index(split)
    return generate_chunk(
        split, n, np.random.default_rng(np.random.SeedSequence([data_seed, sid, i]))
    )


def _empty(split: str) -> dict[str, np.ndarray]:
    sd = SPLITS[split]
    return {
        "locations": np.zeros((0, sd.seq_len, 2), np.float32),
        "actions": np.zeros((0, sd.seq_len - 1, 2), np.float32),
        "layouts": np.zeros((0, 2), np.int16),
        "kinds": np.zeros((0,), np.int8),
    }


def generate_all(
    sizes: dict[str, int],
    data_seed: int = DATA_SEED,
    progress: bool | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Every split of ``sizes`` (split name -> number of trajectories).

    Chunks of ``CHUNK`` trajectories are generated by ``workers`` processes (default: one per
    usable core, at most one per chunk, when there is more than one chunk's work); the result
    does not depend on the number of workers.
    """
    for split, n in sizes.items():
        if split not in SPLITS:
            raise KeyError(f"unknown wall_door split {split!r}; known: {', '.join(SPLITS)}")
        if n < 0:
            raise ValueError(f"split {split!r}: size must be >= 0, got {n}")
    jobs = [
        (split, data_seed, i, min(CHUNK, n - lo))
        for split, n in sizes.items()
        for i, lo in enumerate(range(0, n, CHUNK))
    ]
    total = sum(sizes.values())
    if workers is None and total <= CHUNK:
        workers = 1  # not worth starting processes
    workers = resolve_workers(workers, len(jobs))
    show = total >= PROGRESS_MIN if progress is None else progress
    parts: dict[str, list[dict[str, np.ndarray]]] = {split: [] for split in sizes}
    with tqdm(total=total, desc="wall_door data", unit="traj", disable=not show) as bar:
        for job, chunk in zip(jobs, ordered_map(_chunk, jobs, workers)):
            parts[job[0]].append(chunk)
            bar.update(job[3])
    return {
        split: {k: np.concatenate([p[k] for p in ps]) for k in FIELDS} if ps else _empty(split)
        for split, ps in parts.items()
    }


def generate_split(
    split: str, n: int, data_seed: int = DATA_SEED, progress: bool | None = None
) -> dict[str, np.ndarray]:
    """All ``n`` trajectories of ``split`` as compact arrays (see ``FIELDS``), in this process."""
    return generate_all({split: n}, data_seed, progress, workers=1)[split]
