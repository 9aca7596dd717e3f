"""Trainer: logging of every term, exact resume, and the non-finite-loss stop."""

import json

import numpy as np
import pytest
import torch

from jepa_bench.config import TrainConfig as TrainSettings
from jepa_bench.models.convnext_mlp import CONVNEXT_MLP_SMOKE as convnext_mlp_smoke
from jepa_bench.regularizers.base import Objective
from jepa_bench.regularizers.vicreg import VICReg
from jepa_bench.train.batches import batch_order
from jepa_bench.train.checkpoint import MODEL_FILE, load_model
from jepa_bench.train.loop import NonFiniteLossError, train
from tests.helpers import ToyTask, ToyWindows

SETTINGS = dict(
    batch_size=4, lr=1e-3, weight_decay=0.0, grad_clip=1.0, optimizer="adam", log_every=1
)


def _model():
    torch.manual_seed(0)
    return convnext_mlp_smoke(ToyTask().spec)


class Failing(ToyWindows):
    """Fails when the batch of a given step is built (simulates an interrupted run)."""

    def __init__(self, fail_at_call: int, **kw):
        super().__init__(**kw)
        self.calls, self.fail_at = 0, fail_at_call

    def batch(self, idx):
        self.calls += 1
        if self.calls > self.fail_at:
            raise KeyboardInterrupt("simulated interruption")
        return super().batch(idx)


def test_every_term_is_logged(tmp_path):
    """Each log line has the step, the learning rate and every loss term."""
    train(
        _model(),
        Objective([VICReg()]),
        ToyWindows(16, 1, targets=False),
        TrainSettings(steps=3, **SETTINGS),
        device=torch.device("cpu"),
        seed=0,
        run_dir=tmp_path,
        progress=False,
    )
    rows = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    for key in ("loss", "vicreg/invariance", "vicreg/variance", "vicreg/covariance", "lr"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert (tmp_path / MODEL_FILE).exists()


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    """Stopping after a checkpoint and resuming gives the same weights as one straight run."""
    kw = dict(device=torch.device("cpu"), seed=3, progress=False)
    straight = _model()
    train(
        straight,
        Objective([VICReg()]),
        ToyWindows(16, 1, targets=False),
        TrainSettings(steps=4, checkpoint_every=2, **SETTINGS),
        run_dir=tmp_path / "a",
        **kw,
    )
    resumed = _model()
    with pytest.raises(KeyboardInterrupt):
        train(
            resumed,
            Objective([VICReg()]),
            Failing(2, n=16, seed=1, targets=False),
            TrainSettings(steps=4, checkpoint_every=2, **SETTINGS),
            run_dir=tmp_path / "b",
            **kw,
        )
    fresh = _model()
    train(
        fresh,
        Objective([VICReg()]),
        ToyWindows(16, 1, targets=False),
        TrainSettings(steps=4, checkpoint_every=2, **SETTINGS),
        run_dir=tmp_path / "b",
        resume=True,
        **kw,
    )
    for (k, a), b in zip(straight.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k


class NaNAfter(ToyWindows):
    def __init__(self, good_calls: int, **kw):
        super().__init__(**kw)
        self.calls, self.good = 0, good_calls

    def batch(self, idx):
        self.calls += 1
        b = super().batch(idx)
        if self.calls > self.good:
            b.obs[:] = np.nan
        return b


def test_non_finite_loss_names_the_step_and_keeps_good_weights(tmp_path):
    """A NaN loss at step 2 stops training, names step 2, and saves the weights after step 1."""
    model = _model()
    with pytest.raises(NonFiniteLossError, match="step 2"):
        train(
            model,
            Objective([VICReg()]),
            NaNAfter(2, n=16, seed=1, targets=False),
            TrainSettings(steps=5, **SETTINGS),
            device=torch.device("cpu"),
            seed=0,
            run_dir=tmp_path,
            progress=False,
        )
    saved = _model()
    step = load_model(saved, tmp_path / MODEL_FILE)
    assert step == 2
    for a, b in zip(model.state_dict().values(), saved.state_dict().values()):
        assert torch.isfinite(b.float()).all() and torch.equal(a, b)


def test_batch_order_covers_each_epoch_once():
    """Within an epoch every window is used at most once; epochs differ."""
    first = np.concatenate([batch_order(20, 5, 7, s) for s in range(4)])
    second = np.concatenate([batch_order(20, 5, 7, s) for s in range(4, 8)])
    assert sorted(first) == list(range(20)) and not np.array_equal(first, second)


def test_snapshots_are_kept_when_asked(tmp_path):
    """keep_snapshots leaves one model_step<N>.safetensors per checkpoint."""
    train(
        _model(),
        Objective([VICReg()]),
        ToyWindows(16, 1, targets=False),
        TrainSettings(steps=4, checkpoint_every=2, keep_snapshots=True, **SETTINGS),
        device=torch.device("cpu"),
        seed=0,
        run_dir=tmp_path,
        progress=False,
    )
    assert sorted(p.name for p in tmp_path.glob("model_step*")) == ["model_step2.safetensors"]


def test_train_window_crops_what_the_model_sees(tmp_path):
    """With ``window`` the model trains on that many frames; a window below 2 fails up front."""
    model = _model()
    seen = []
    inner = model.train_latents

    def spy(obs, actions):
        seen.append((obs.shape[1], actions.shape[1]))
        return inner(obs, actions)

    model.train_latents = spy
    kw = dict(device=torch.device("cpu"), seed=0, progress=False, run_dir=tmp_path)
    data = ToyWindows(16, 1, targets=False)  # 5-frame windows
    train(model, Objective([VICReg()]), data, TrainSettings(steps=2, window=3, **SETTINGS), **kw)
    assert seen == [(3, 2), (3, 2)]
    with pytest.raises(ValueError, match="train.window"):
        bad = TrainSettings(steps=1, window=1, **SETTINGS)
        train(model, Objective([VICReg()]), data, bad, **kw)
