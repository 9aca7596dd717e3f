"""The GPU data path, run on the CPU: wall_door frames rendered by torch on the training device,
device batches through the trainer's crops and prefetching, and the evaluator's batches.

On a GPU the same functions run on CUDA tensors (``batch_on`` picks the device path there)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.config import TrainConfig
from jepa_bench.data.base import batch_on
from jepa_bench.data.wall_door.render import render, render_torch
from jepa_bench.data.wall_door.task import wall_door
from jepa_bench.models.convnext_mlp import CONVNEXT_MLP_SMOKE
from jepa_bench.regularizers.compose import build_objective
from jepa_bench.train.batches import make_batch
from jepa_bench.train.loop import train

CPU = torch.device("cpu")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    b=st.integers(1, 4),
    t=st.integers(1, 5),
)
def test_torch_rendering_equals_numpy_rendering(seed, b, t):
    """Frames rendered by torch match the host renderer's (float rounding of exp only)."""
    rng = np.random.default_rng(seed)
    loc = rng.uniform(0, 64, size=(b, t, 2)).astype(np.float32)
    lay = np.stack([rng.integers(20, 45, b), rng.integers(10, 55, b)], 1).astype(np.int16)
    ours = render_torch(torch.from_numpy(loc), torch.from_numpy(lay)).numpy()
    np.testing.assert_allclose(ours, render(loc, lay), rtol=0, atol=1e-6)


def _probe_windows(tmp_path):
    task = wall_door(budget="smoke", data_dir=str(tmp_path))
    return task, task.probe_suites()[0].train


def test_device_batches_equal_host_batches(tmp_path):
    """`device_batch` gives the host batch's frames, actions and targets, as tensors."""
    _, ws = _probe_windows(tmp_path)
    idx = np.array([3, 0, 7])
    host, dev = ws.batch(idx), batch_on(ws, idx, CPU, on_device=True)
    np.testing.assert_allclose(dev.obs.numpy(), host.obs, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(dev.actions.numpy(), host.actions)
    np.testing.assert_array_equal(dev.targets["location"].numpy(), host.targets["location"])
    auto = batch_on(ws, idx, CPU)  # the CPU default is the host path
    np.testing.assert_array_equal(auto.obs.numpy(), host.obs)


def test_device_batches_crop_like_host_batches(tmp_path):
    """The trainer's seeded crops pick the same frames on either path."""
    task, _ = _probe_windows(tmp_path)
    data = task.train_set()
    a = make_batch(data, 4, seed=1, step=3, window=5, device=CPU, on_device=True)
    b = make_batch(data, 4, seed=1, step=3, window=5, device=CPU, on_device=False)
    assert a.obs.shape == b.obs.shape == (4, 5, 2, 65, 65)
    torch.testing.assert_close(a.obs, b.obs, rtol=0, atol=1e-6)
    torch.testing.assert_close(a.actions, b.actions, rtol=0, atol=0)


def test_training_on_the_device_path(tmp_path):
    """A few steps trained from device-made batches match the host path closely."""
    task, _ = _probe_windows(tmp_path)
    settings_ = TrainConfig(steps=3, batch_size=4, lr=1e-3, log_every=1)
    losses = []
    for on_device in (True, False):
        torch.manual_seed(0)
        model = CONVNEXT_MLP_SMOKE(task.spec)
        summary = train(
            model, build_objective("vicreg", seed=0), task.train_set(), settings_, device=CPU,
            seed=0, run_dir=tmp_path / str(on_device), progress=False, on_device=on_device,
        )  # fmt: skip
        assert summary.steps == 3
        losses.append(summary.last_terms["loss"])
    assert abs(losses[0] - losses[1]) <= 1e-4 * abs(losses[1])
