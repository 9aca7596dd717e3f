"""Small HDF5 robot files for the robot-task tests, in the three layouts the task reads.

Every value identifies its row ``r`` (global, over all episodes): ``action[r, j] = r + j / 10``,
``proprio[r, j] = -r - j / 10``, ``state[r] = (2 r, 1, r % 7)``, and every pixel of channel 0 of
frame ``r`` is ``r % 251`` (channels 1 and 2 hold a fixed pattern), so a test can tell exactly
which rows a window read.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def row_arrays(ep_lens: list[int], hw: tuple[int, int] = (16, 16)) -> dict[str, np.ndarray]:
    """Per-step columns of a file with episodes of ``ep_lens`` rows."""
    n = int(sum(ep_lens))
    r = np.arange(n, dtype=np.float64)
    j = np.arange(6)[None, :] / 10.0
    pix = np.zeros((n, *hw, 3), dtype=np.uint8)
    pix[..., 0] = (np.arange(n) % 251)[:, None, None]
    yy, xx = np.mgrid[0 : hw[0], 0 : hw[1]]
    pix[..., 1] = (xx * 255 // max(1, hw[1] - 1))[None]
    pix[..., 2] = (yy * 255 // max(1, hw[0] - 1))[None]
    offsets = np.concatenate([[0], np.cumsum(ep_lens)[:-1]]).astype(np.int64)
    step = np.concatenate([np.arange(n_) for n_ in ep_lens]).astype(np.int64)
    return {
        "pixels": pix,
        "action": (r[:, None] + j).astype(np.float32),
        "proprio": (-r[:, None] - j).astype(np.float32),
        "state": np.stack([2 * r, np.ones(n), r % 7], axis=1).astype(np.float32),
        "episode_idx": np.repeat(np.arange(len(ep_lens)), ep_lens).astype(np.int64),
        "step_idx": step,
        "index": np.arange(n, dtype=np.int64),
        "task_index": np.zeros(n, dtype=np.int64),
        "timestamp": (step / 30.0).astype(np.float32),
        "done": np.isin(np.arange(n), offsets + np.asarray(ep_lens) - 1),
        "ep_len": np.asarray(ep_lens, dtype=np.int64),
        "ep_offset": offsets,
    }


def write_seed_layout(
    folder: Path,
    ep_lens: list[int],
    camera: str = "observation.images.laptop",
    split: str = "train",
    hw: tuple[int, int] = (16, 16),
) -> Path:
    """A file as the seed author's converter writes it: ``<split>__<camera>.h5``, LZF, 64-row
    chunks, provenance attributes."""
    cols = row_arrays(ep_lens, hw)
    path = Path(folder) / f"{split}__{camera.replace('.', '_')}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for name, values in cols.items():
            kw: dict = {}
            if name not in ("ep_len", "ep_offset"):
                kw["chunks"] = (min(64, len(values)), *values.shape[1:])
            if name in ("pixels", "action", "proprio", "state"):
                kw["compression"] = "lzf"
            f.create_dataset(name, data=values, **kw)
        f.attrs.update(
            source_repo_id="lerobot/koch_pick_place_1_lego",
            source_split=split,
            source_camera_key=camera,
            fps=30,
            generated_by="convert_lerobot_to_hdf5",
        )
    return path


def write_swm_layout(path: Path, ep_lens: list[int], hw: tuple[int, int] = (16, 16)) -> Path:
    """A stable-worldmodel file: ``ep_idx`` instead of ``episode_idx``, no ``done``."""
    cols = row_arrays(ep_lens, hw)
    cols["ep_idx"] = cols.pop("episode_idx")
    del cols["done"], cols["index"], cols["task_index"], cols["timestamp"]
    with h5py.File(path, "w") as f:
        for name, values in cols.items():
            f.create_dataset(name, data=values)
    return path
