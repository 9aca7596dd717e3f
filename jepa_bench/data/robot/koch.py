"""The ``koch_pick_place`` task: Koch arm pick-and-place recordings read from LeWM HDF5.

``data`` may be an HDF5 file in any of the layouts ``jepa_bench.convert.layout`` reads (ours, the
seed author's per-camera files, stable-worldmodel's), a folder of per-camera files, or a LeRobot
dataset folder, which is converted once and cached. Without ``data`` the task looks in
``<data_dir>/koch_pick_place/`` and, finding nothing, says how to get the dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from jepa_bench.config import BUDGET_NAMES, check_choice
from jepa_bench.convert.pipeline import ConvertOptions, convert_lerobot
from jepa_bench.data.base import cache_root
from jepa_bench.data.robot.split import SPLIT_SEED, TRAIN_SPLIT
from jepa_bench.data.robot.task import RobotTask

TASK_VERSION = "koch_pick_place-v1"  # + "+<fingerprint of the data file>"
H5_SUFFIXES = (".h5", ".hdf5")
DEFAULT_CONVERT_SIZE = 224  # a LeRobot folder is converted at LeWM's size unless image_size is set


class MissingDataError(FileNotFoundError, ValueError):
    """The recordings are not where the options say (a ValueError too: a usage error)."""


HOW_TO_GET = """\
koch_pick_place needs the Koch pick-and-place recordings, and none were found: no data given
(--task-arg data=PATH) and no .h5 file in {folder}. Get them in one of these ways:
  1. The seed author's HDF5 files (already converted, one file per split and camera):
       huggingface-cli download --repo-type dataset Tpauwels/lerobot-hdf5-koch_pick_place_1_lego \\
         --local-dir koch_h5
     then: --task-arg data=koch_h5  (or the file train__observation_images_laptop.h5 in it)
  2. The LeRobot recording, converted here (needs pip install 'jepa-bench[hub]'):
       jepa-bench convert lerobot/koch_pick_place_1_lego koch.h5 --size 64
     then: --task-arg data=koch.h5
  3. A LeRobot dataset folder already on disk: --task-arg data=PATH/TO/FOLDER
     (converted once and cached in {folder}).
Or put an .h5 file into {folder} to have it found without data=.
For an offline stand-in that needs no download, run --task arm_sim."""


def short_camera(name: str) -> str:
    """``observation.images.laptop`` / ``observation_images_laptop`` / ``laptop`` -> ``laptop``."""
    for prefix in ("observation.images.", "observation_images_", "observation.image.", "pixels_"):
        name = name.removeprefix(prefix)
    return name


def _pick_file(files: list[Path], camera: str | None, where: Path) -> Path:
    """One file among per-split / per-camera files (``<split>__<camera>.h5``); train preferred."""
    if camera is not None:
        files = [f for f in files if short_camera(f.stem.split("__")[-1]) == short_camera(camera)]
    train = [f for f in files if f.stem.startswith("train__")]
    files = train or files
    if len(files) == 1:
        return files[0]
    if not files:
        raise MissingDataError(f"{where}: no HDF5 file for camera {camera!r}")
    names = ", ".join(sorted(f.name for f in files))
    raise ValueError(f"{where}: several HDF5 files fit ({names}); choose one with camera=<name>")


def _h5_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in H5_SUFFIXES and p.is_file())


def convert_cached(folder: Path, root: Path, camera: str | None, size: int) -> Path:
    """Convert a LeRobot folder once; later calls with the same folder and options reuse it."""

    info = folder / "meta" / "info.json"
    key = {
        "source": str(folder.resolve()),
        "info_mtime_ns": info.stat().st_mtime_ns,
        "camera": camera,
        "size": size,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    out = root / "koch_pick_place" / "converted" / f"{folder.name}_{digest}.h5"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.stem}.part-{os.getpid()}-{uuid.uuid4().hex[:6]}.h5")
    opts = ConvertOptions(camera=camera, size=(size, size), progress=False)
    try:
        convert_lerobot(folder, tmp, opts)
        os.replace(tmp, out)  # atomic: a reader sees a complete file or none
        report = tmp.with_suffix(".report.json")
        if report.exists():
            os.replace(report, out.with_suffix(".report.json"))
    finally:
        tmp.unlink(missing_ok=True)
    return out


def resolve_data(
    data: str | os.PathLike[str] | None,
    camera: str | None,
    data_dir: str | os.PathLike[str] | None,
    image_size: int | None,
) -> tuple[Path, str | None, dict[str, Any]]:
    """(HDF5 path, pixel dataset or None for the default, provenance) for the task's options."""
    root = cache_root(data_dir)
    if data is None:
        folder = root / "koch_pick_place"
        files = (
            [f for f in _h5_files(folder) if "converted" not in f.parts] if folder.is_dir() else []
        )
        if not files:
            raise MissingDataError(HOW_TO_GET.format(folder=folder))
        path = _pick_file(files, camera, folder)
        return path, _pixel_key(path, camera), {"source": "found in data_dir"}
    path = Path(data).expanduser()
    if path.is_file():
        if path.suffix not in H5_SUFFIXES:
            raise ValueError(f"{path}: expected an HDF5 file (.h5 / .hdf5) or a folder")
        return path, _pixel_key(path, camera), {"source": "file"}
    if (path / "meta" / "info.json").is_file():
        size = image_size or DEFAULT_CONVERT_SIZE
        out = convert_cached(path, root, camera, size)
        return out, None, {"source": "converted LeRobot folder", "lerobot_folder": str(path)}
    if path.is_dir():
        files = _h5_files(path)
        if files:
            picked = _pick_file(files, camera, path)
            return picked, _pixel_key(picked, camera), {"source": "folder of HDF5 files"}
        raise MissingDataError(f"{path}: neither a LeRobot dataset (meta/info.json) nor .h5 files")
    raise MissingDataError(
        f"{path}: no such file or folder.\n\n" + HOW_TO_GET.format(folder=root / "koch_pick_place")
    )


def _pixel_key(path: Path, camera: str | None) -> str | None:
    """``pixels_<camera>`` when the file holds that extra camera; None for the main one."""
    if camera is None:
        return None
    import h5py

    with h5py.File(path, "r") as f:
        extra = f"pixels_{short_camera(camera)}"
        if extra in f:
            return extra
        main = str(f.attrs.get("source_camera_key", f.attrs.get("camera", "")))
    if main and short_camera(main) != short_camera(camera):
        raise ValueError(f"{path}: no camera {camera!r} (its main camera is {main!r})")
    return None


KochTask = RobotTask  # koch_pick_place is a robot task over the resolved file


def koch_pick_place(
    budget: str = "default",
    seed: int = 0,
    data_dir: str | None = None,
    data: str | None = None,
    camera: str | None = None,
    image_size: int | None = None,
    frameskip: int = 5,
    history_size: int = 3,
    num_preds: int = 1,
    train_split: float = TRAIN_SPLIT,
    split_seed: int = SPLIT_SEED,
    cache: bool | str = "auto",
    probe_stride: int | None = None,
) -> KochTask:
    """Koch arm pick-and-place from LeWM HDF5 (``data=`` a file, a folder, or a LeRobot folder).

    ``camera``: which camera (a per-camera file or a ``pixels_<camera>`` dataset); ``image_size``:
    square size frames are resized to (default: the file's); ``frameskip`` / ``history_size`` /
    ``num_preds``: window shape (seed defaults 5 / 3 / 1); ``train_split`` / ``split_seed``: the
    episode split (0.9 / 3072); ``cache``: hold frames in memory (True, False, "auto").
    """
    check_choice("budget", budget, BUDGET_NAMES)
    path, pixels, provenance = resolve_data(data, camera, data_dir, image_size)
    return KochTask(
        "koch_pick_place",
        TASK_VERSION,
        path,
        budget=budget,
        seed=seed,
        pixels=pixels,
        image_size=image_size,
        frameskip=frameskip,
        history_size=history_size,
        num_preds=num_preds,
        train_split=train_split,
        split_seed=split_seed,
        cache=cache,
        probe_stride=probe_stride,
        provenance=provenance,
        version_with_data=True,  # different recordings never share a leaderboard table
    )
