"""Simulated recordings written as a real LeRobot v3.0 dataset, converted to HDF5, cached.

The offline default goes through the same path as real data: episodes are rendered, encoded to
AV1 mp4 (several episodes per file, as LeRobot v3.0 does) with parquet tables, then converted by
``jepa_bench.convert`` to the LeWM HDF5 layout. The cache folder is keyed by the simulator version,
data seed and sizes, and is built under a temporary name and renamed into place when complete.
An encoder failure (SVT-AV1 can fail under memory or CPU pressure) is retried a few times; if it
keeps failing, ``SimDataError`` says so, and no temporary folder is left behind either way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import av
import numpy as np

from jepa_bench.convert.interrupt import InterruptGuard
from jepa_bench.convert.layout import open_lewm_h5
from jepa_bench.convert.lerobot_writer import write_lerobot_dataset_parallel
from jepa_bench.convert.pipeline import ConvertOptions, convert_lerobot
from jepa_bench.data.base import TaskDataError
from jepa_bench.data.robot.arm_sim.kinematics import JOINT_NAMES
from jepa_bench.data.robot.arm_sim.policy import FPS, simulate_episode
from jepa_bench.data.robot.arm_sim.render import render_episode

SIM_VERSION = "arm_sim-v1"  # bump whenever the data a seed produces changes
DATA_SEED = 7
CAMERA = "observation.images.front"
STATE_KEY = "observation.environment_state"  # the cube's position, LeRobot's name for it
TASK_TEXT = "pick up the red cube and place it on the green square"
EPISODES_PER_FILE = 20
# Presets above 10 may corrupt tiny frames (see the converter's tests); 8 is fast enough. One
# encoder thread per worker process (lp=1): the processes are the parallelism, and SVT-AV1
# writes the same bytes whatever its thread count.
CRF, GOP = 30, 2
ENCODER_OPTIONS = {"preset": "8", "svtav1-params": "lp=1"}
H5_NAME = "arm_sim.h5"
KEY_NAME = "key.json"
ENCODER_ATTEMPTS = 3  # tries of the whole LeRobot dataset before giving up on the encoder
RETRY_DELAY_S = 2.0  # wait before try k + 1: k * RETRY_DELAY_S (load often passes)


class SimDataError(TaskDataError):
    """The simulated dataset could not be generated; the message says what failed and what to do."""


def episode_dict(i: int, data_seed: int, image_size: int, duration_scale: float) -> dict[str, Any]:
    """Simulated episode ``i`` as a LeRobot writer episode (its frames rendered).

    It draws from ``SeedSequence([data_seed, i])``, so it depends neither on how many episodes
    there are nor on which process makes it.
    """
    rng = np.random.default_rng(np.random.SeedSequence([data_seed, i]))
    ep = simulate_episode(rng, duration_scale)
    return {
        CAMERA: render_episode(ep, image_size),  # (T, S, S, 3) uint8
        "action": ep.action,  # (T, 6)
        "observation.state": ep.proprio,  # (T, 6)
        STATE_KEY: ep.cube,  # (T, 3)
        "task": TASK_TEXT,
    }


def write_sim_lerobot(
    root: str | Path,
    n: int,
    data_seed: int,
    image_size: int,
    duration_scale: float,
    workers: int | None = None,
) -> Path:
    """Write ``n`` simulated episodes under ``root`` as a LeRobot v3.0 dataset (AV1 video).

    Files of ``EPISODES_PER_FILE`` episodes are rendered and encoded by ``workers`` processes
    (default: one per usable core); the dataset is the same whatever their number.
    """
    return write_lerobot_dataset_parallel(
        root,
        partial(
            episode_dict,
            data_seed=data_seed,
            image_size=image_size,
            duration_scale=duration_scale,
        ),
        n,
        [CAMERA],
        episodes_per_file=EPISODES_PER_FILE,
        workers=workers,
        fps=FPS,
        codec="libsvtav1",
        robot_type="arm_sim",
        feature_names={
            "action": list(JOINT_NAMES),
            "observation.state": list(JOINT_NAMES),
            STATE_KEY: ["cube_x", "cube_y", "cube_z"],
        },
        crf=CRF,
        gop=GOP,
        encoder_options=ENCODER_OPTIONS,
    )


def write_sim_lerobot_retrying(
    root: Path, n: int, data_seed: int, image_size: int, duration_scale: float
) -> Path:
    """``write_sim_lerobot``, retried from scratch when the video encoder fails.

    The data is a function of the seed, so a retry writes the same dataset. After
    ``ENCODER_ATTEMPTS`` failures, raises ``SimDataError``; the partial folder is removed each time.
    """
    for attempt in range(1, ENCODER_ATTEMPTS + 1):
        try:
            return write_sim_lerobot(root, n, data_seed, image_size, duration_scale)
        except av.error.FFmpegError as exc:
            shutil.rmtree(root, ignore_errors=True)
            if attempt == ENCODER_ATTEMPTS:
                raise SimDataError(
                    f"arm_sim: the AV1 video encoder (libsvtav1 through PyAV) failed {attempt} "
                    "times while writing the simulated LeRobot dataset; last error: "
                    f"{type(exc).__name__}: {exc}. This is usually memory or CPU pressure: "
                    "run again when the machine is less busy, with fewer jobs in parallel, or "
                    "with fewer episodes (--task-arg=episodes=N). Nothing was cached."
                ) from exc
            warnings.warn(
                f"arm_sim: the AV1 video encoder failed ({type(exc).__name__}: {exc}); "
                f"retrying ({attempt + 1} of {ENCODER_ATTEMPTS})",
                RuntimeWarning,
                stacklevel=2,
            )
            time.sleep(RETRY_DELAY_S * attempt)
    raise AssertionError("unreachable")


def convert_sim(root: Path, out: Path) -> Path:
    """Convert the simulated LeRobot dataset at ``root`` to ``out`` with the shared converter."""

    opts = ConvertOptions(camera=CAMERA, size=None, state_key=STATE_KEY, progress=False)
    convert_lerobot(root, out, opts, log=lambda line: None)
    return out


def cache_key(episodes: int, image_size: int, duration_scale: float, data_seed: int) -> dict:
    return {
        "version": SIM_VERSION,
        "data_seed": int(data_seed),
        "episodes": int(episodes),
        "image_size": int(image_size),
        "duration_scale": float(duration_scale),
    }


def cache_dir(root: Path, key: dict) -> Path:
    """The folder holding the dataset of ``key`` under ``root``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{key['version']}_seed{key['data_seed']}_{key['episodes']}ep_{key['image_size']}px"
    return root / "arm_sim" / f"{name}_{digest}"


def _usable(folder: Path, key: dict) -> str | None:
    """None when ``folder`` holds a complete dataset of ``key``, else what is wrong."""
    try:
        stored = json.loads((folder / KEY_NAME).read_text())
    except (OSError, ValueError) as exc:
        return f"unreadable {KEY_NAME} ({exc})"
    if stored != key:
        return f"{KEY_NAME} is {stored}, expected {key}"

    try:
        with open_lewm_h5(folder / H5_NAME, cache_mb=1) as h5:
            if h5.n_episodes != key["episodes"]:
                return f"{H5_NAME} holds {h5.n_episodes} episodes, expected {key['episodes']}"
    except (OSError, ValueError) as exc:
        return f"{H5_NAME} unusable ({exc})"
    return None


def ensure_sim_data(
    root: Path,
    episodes: int,
    image_size: int,
    duration_scale: float,
    data_seed: int = DATA_SEED,
    keep_lerobot: bool = True,
) -> tuple[Path, bool]:
    """The HDF5 file of this configuration, generated and converted if needed.

    Returns (path, built): ``built`` says whether this call generated it. A damaged or stale
    folder is reported with a warning and rebuilt. ``keep_lerobot=False`` deletes the LeRobot
    source after conversion.
    """
    key = cache_key(episodes, image_size, duration_scale, data_seed)
    final = cache_dir(Path(root), key)
    if final.exists():
        problem = _usable(final, key)
        if problem is None:
            return final / H5_NAME, False
        warnings.warn(f"arm_sim cache {final} unusable, rebuilding: {problem}", RuntimeWarning, 2)
        stale = final.with_name(f"{final.name}.stale-{uuid.uuid4().hex[:8]}")
        os.replace(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    # SIGTERM / Ctrl-C raise ConversionInterrupted here (main thread), so the folder is removed.
    with InterruptGuard() as guard:
        guard.stage = f"generating the arm_sim dataset in {tmp}"
        return _build(tmp, final, key, keep_lerobot)


def _build(tmp: Path, final: Path, key: dict, keep_lerobot: bool) -> tuple[Path, bool]:
    """Generate and convert into ``tmp``, then move it to ``final``; ``tmp`` never outlives it."""
    episodes, data_seed = key["episodes"], key["data_seed"]
    image_size, duration_scale = key["image_size"], key["duration_scale"]
    try:
        src = write_sim_lerobot_retrying(
            tmp / "lerobot", episodes, data_seed, image_size, duration_scale
        )
        convert_sim(src, tmp / H5_NAME)
        if not keep_lerobot:
            shutil.rmtree(src)
        (tmp / KEY_NAME).write_text(json.dumps(key, indent=2))
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished the same folder first
            if _usable(final, key) is not None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return final / H5_NAME, False
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final / H5_NAME, True
