"""The shared evaluator on a tiny fake task: a 1-D dot moving along a 1x16 strip."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from jepa_bench.config import EvalConfig
from jepa_bench.data.base import Batch, ProbeSuite, TaskSpec
from jepa_bench.evaluate.latent_error import latent_error
from jepa_bench.evaluate.probe import fit_linear_probe, mse_px2
from jepa_bench.models.params import param_counts
from jepa_bench.models.protocol import TrainLatents, recurrent_rollout

W, T = 16, 5
ARTIFACTS = Path(__file__).parent / "artifacts"
CPU = torch.device("cpu")
# Enough probe steps for the MLP head to converge on this tiny data. The course's protocol runs its
# first step at the unscaled probe_lr (mlp_probe.lr_at), so that rate must stay moderate.
CFG = EvalConfig(probe_epochs=60, probe_batch_size=16, probe_lr=0.08)
OFFSET = 4.5  # the perfect latents are centred on the train split's middle


def render(x: np.ndarray) -> np.ndarray:
    """(B, T) sub-pixel positions -> (B, T, 1, 1, W) strips; the intensity centroid is exactly x."""
    i = np.floor(x).astype(int)
    f = (x - i).astype(np.float32)
    img = np.zeros((*x.shape, W), np.float32)
    np.put_along_axis(img, i[..., None], (1 - f)[..., None], axis=-1)
    np.put_along_axis(img, (i + 1)[..., None], f[..., None], axis=-1)
    return img[:, :, None, None, :]


class DotWindows:
    """Windows of a dot starting uniformly in [lo, hi] and moving by its actions."""

    def __init__(self, n: int, seed: int, lo: float, hi: float) -> None:
        rng = np.random.default_rng(seed)
        steps = rng.uniform(-0.25, 0.25, (n, T - 1))
        x0 = rng.uniform(lo, hi, (n, 1))
        self.x = np.concatenate([x0, x0 + np.cumsum(steps, axis=1)], axis=1)  # (n, T)
        self.actions = steps[..., None].astype(np.float32)  # (n, T-1, 1)

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, idx: np.ndarray) -> Batch:
        x = self.x[idx]
        loc = x[..., None].astype(np.float32)  # (B, T, 1)
        return Batch(obs=render(x), actions=self.actions[idx], targets={"loc": loc})


class DotTask:
    spec = TaskSpec(name="dots", version="1", obs_shape=(1, 1, W), action_dim=1, seq_len=T)

    def __init__(self) -> None:
        self.train = DotWindows(96, 0, 3.0, 6.0)
        self.normal = DotWindows(48, 1, 3.0, 6.0)
        self.far = DotWindows(32, 2, 10.0, 11.0)

    def train_set(self) -> DotWindows:
        return self.train

    def probe_suites(self) -> list[ProbeSuite]:
        loc = self.train.x.reshape(-1, 1)
        norm = (loc.mean(0), loc.std(0))
        return [
            ProbeSuite(
                "loc",
                ("loc",),
                self.train,
                {"normal": self.normal, "far": self.far},
                target_norm=norm,
            ),
            ProbeSuite(
                "loc_lin",
                ("loc",),
                self.train,
                {"normal": self.normal},
                mode="encode",
                head="linear",
                metric="r2",
            ),
        ]

    def describe(self) -> dict[str, object]:
        return {"windows": len(self.train)}


class PerfectModel(nn.Module):
    """Latents are the dot's location (less ``OFFSET``); predictions add the action (exact
    dynamics)."""

    repr_dim = 1

    def __init__(self, nan_above: float | None = None) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))
        self.drop = nn.Dropout(0.5)
        self.nan_above = nan_above

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        img = obs[:, :, 0, 0]  # (B, T, W)
        z = (img * torch.arange(W, dtype=img.dtype)).sum(-1) / img.sum(-1)  # (B, T)
        if self.nan_above is not None:
            z = torch.where(z > self.nan_above, torch.nan, z)
        z = z - OFFSET  # centred: large raw inputs would make the probe's first step overshoot
        return self.drop(z[..., None] * self.gain)  # (B, T, 1); dropout shows up if not in eval

    def predict(self, history: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return history[:, -1] + actions[:, -1] * self.gain

    def rollout(self, obs0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return recurrent_rollout(self, self.encode(obs0[:, None])[:, 0], actions)

    def train_latents(self, obs: torch.Tensor, actions: torch.Tensor) -> TrainLatents:
        z = self.encode(obs)
        pred = self.rollout(obs[:, 0], actions)
        return TrainLatents(pred=pred[:, 1:], target=z[:, 1:], emb=z)

    def param_groups(self) -> dict[str, nn.Module]:
        return {}


class ConstantModel(PerfectModel):
    """Every latent is the same vector: a fully collapsed model."""

    repr_dim = 2

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tensor([1.0, -2.0]).expand(*obs.shape[:2], 2) * self.gain

    def predict(self, history: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return history[:, -1]


def run(model: nn.Module, cfg: EvalConfig = CFG, seed: int = 0, task: DotTask | None = None):
    pytest.importorskip("jepa_bench.evaluate.collapse")  # skipped only while it is missing
    from jepa_bench.evaluate import evaluate

    return evaluate(model, task or DotTask(), cfg, device=CPU, seed=seed, progress=False)


@pytest.fixture(scope="module")
def perfect():
    return run(PerfectModel())


@pytest.fixture(scope="module")
def constant():
    return run(ConstantModel())


def test_perfect_model_probe_error_near_zero(perfect):
    """Latents equal to the location give an MLP probe error far below the target variance."""
    loc = DotTask().normal.x
    assert perfect.metrics["probe/normal"] < 0.01 * loc.var()
    assert math.isfinite(perfect.metrics["probe/far"])


def test_constant_model_probe_error_equals_target_spread(constant):
    """A constant model's best probe predicts the train mean: error = mean sq. distance to it."""
    task = DotTask()
    expected = np.mean((task.normal.x - task.train.x.mean()) ** 2)
    assert constant.metrics["probe/normal"] == pytest.approx(expected, rel=0.05)
    far = np.mean((task.far.x - task.train.x.mean()) ** 2)
    assert constant.metrics["probe/far"] == pytest.approx(far, rel=0.05)


def test_linear_probe_r2(perfect, constant):
    """R2 is ~1 for the perfect model and 1 - SSE/SST of the train mean for the constant one."""
    assert perfect.metrics["probe/loc/r2"] > 0.9999
    assert perfect.metrics["probe/loc/mse"] < 1e-6
    task = DotTask()
    y, c = task.normal.x, task.train.x.mean()
    r2 = 1 - np.sum((y - c) ** 2) / np.sum((y - y.mean()) ** 2)
    assert constant.metrics["probe/loc/r2"] == pytest.approx(r2, abs=1e-4)
    assert constant.metrics["probe/loc/mse"] == pytest.approx(np.mean((y - c) ** 2), rel=1e-4)


def test_latent_error_and_collapse(perfect, constant):
    """Perfect model: no latent error. Constant model: no raw error, undefined relative error."""
    assert perfect.metrics["latent_error/mean"] < 1e-10
    assert perfect.metrics["latent_error_rel/final"] < 1e-8
    assert len(perfect.details["latent_error"]["per_step"]) == T - 1
    assert constant.metrics["latent_error/mean"] == 0.0
    assert math.isnan(constant.metrics["latent_error_rel/mean"])
    assert constant.metrics["collapse/collapsed"] == 1.0
    assert constant.details["collapse"]["message"]
    spread = np.std(DotTask().normal.x, ddof=1)  # the perfect latents' spread is the dot's
    assert perfect.metrics["collapse/std_min"] == pytest.approx(spread, rel=1e-4)


def test_chance_is_the_train_mean_predictor_on_the_scored_windows(perfect, constant):
    """``chance/<split>`` is the error of predicting the probe-train mean on the split's scored
    windows: the same for any model, and what a constant model's probe converges to."""
    task = DotTask()
    for split, windows in (("normal", task.normal), ("far", task.far)):
        m = len(windows) // CFG.probe_batch_size * CFG.probe_batch_size  # scored windows
        expected = np.mean((windows.x[:m] - task.train.x.mean()) ** 2)
        assert perfect.metrics[f"chance/{split}"] == pytest.approx(expected, rel=1e-6)  # float32
        assert constant.metrics[f"chance/{split}"] == perfect.metrics[f"chance/{split}"]
        ratio = constant.metrics[f"probe/{split}"] / constant.metrics[f"chance/{split}"]
        assert ratio == pytest.approx(1.0, rel=0.05)
        assert perfect.metrics[f"probe/{split}"] / perfect.metrics[f"chance/{split}"] < 0.05
    assert perfect.higher_is_better["chance/normal"] is False
    assert not any(k.startswith("chance/loc") for k in perfect.metrics)  # r2 suites have none


def test_directions_and_details_are_json(perfect):
    """Every metric has a direction, and details survive strict JSON (NaN aside)."""
    assert set(perfect.metrics) == set(perfect.higher_is_better)
    json.dumps(perfect.details, allow_nan=True)
    curves = perfect.details["probes"]["loc"]["curves"]
    assert len(curves) == CFG.probe_seeds and all(c[-1] < c[0] for c in curves)


def test_metric_keys_match_golden(perfect):
    """Metric names and directions match tests/artifacts/evaluator_metrics.json."""
    path = ARTIFACTS / "evaluator_metrics.json"
    got = dict(sorted(perfect.higher_is_better.items()))
    if os.environ.get("JEPA_BENCH_REGEN_ARTIFACTS"):
        path.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(path.read_text())


def test_model_state_restored_and_no_grads():
    """Training flags and requires_grad are restored; evaluation leaves no gradients."""
    model = PerfectModel()
    model.train()
    model.drop.eval()
    result = run(model)
    assert model.training and not model.drop.training
    assert model.gain.requires_grad and model.gain.grad is None
    assert result.metrics["probe/normal"] < 0.01 * DotTask().normal.x.var()  # dropout was off


def test_seeded():
    """The same seed gives identical numbers; another seed gives another probe init."""
    cfg = EvalConfig(probe_epochs=2, probe_batch_size=16)
    a, b, c = run(PerfectModel(), cfg, 0), run(PerfectModel(), cfg, 0), run(PerfectModel(), cfg, 1)
    assert a.metrics["probe/normal"] == b.metrics["probe/normal"]
    assert a.metrics["probe/normal"] != c.metrics["probe/normal"]


def test_metrics_are_seed_means_with_their_spread(perfect):
    """probe/<split> is the mean over prober seeds and probe_seed_std/<split> their sample std."""
    for split in ("normal", "far"):
        info = perfect.details["probes"]["loc"]["splits"][split]
        values = info["seed_values"][f"probe/{split}"]
        assert len(set(values)) == len(values) == CFG.probe_seeds  # each seed its own head
        assert perfect.metrics[f"probe/{split}"] == pytest.approx(np.mean(values))
        spread = perfect.metrics[f"probe_seed_std/{split}"]
        assert spread == pytest.approx(np.std(values, ddof=1)) and spread > 0
    assert not any(k.startswith("probe_seed_std/loc") for k in perfect.metrics)  # linear: no seeds


def test_one_prober_seed_has_no_spread():
    """With probe_seeds=1 the probe metrics are that seed's and no spread is reported."""
    result = run(PerfectModel(), replace(CFG, probe_seeds=1, probe_epochs=2))
    assert "probe/normal" in result.metrics
    assert not any(k.startswith("probe_seed_std/") for k in result.metrics)


def test_eval_splits_drop_the_last_partial_batch():
    """Batches of 20: normal (48 windows) is scored on its first 40, far (32) on its first 20."""
    result = run(ConstantModel(), replace(CFG, probe_batch_size=20, probe_seeds=1))
    splits = result.details["probes"]["loc"]["splits"]
    assert (splits["normal"]["scored_windows"], splits["far"]["scored_windows"]) == (40, 20)
    task = DotTask()
    expected = np.mean((task.normal.x[:40] - task.train.x.mean()) ** 2)
    assert result.metrics["probe/normal"] == pytest.approx(expected, rel=0.05)


def test_nan_model_reports_nan_without_crashing():
    """An all-NaN model gets NaN metrics and messages instead of an exception."""
    result = run(PerfectModel(nan_above=-1.0))
    assert all(math.isnan(result.metrics[k]) for k in ("probe/normal", "probe/loc/r2"))
    assert math.isnan(result.metrics["collapse/collapsed"])
    assert any("skipped" in m for m in result.details["messages"])


def test_nan_on_one_split_names_it():
    """NaN latents on one eval split make only that split NaN, and the message names it."""
    result = run(PerfectModel(nan_above=8.5))
    assert math.isnan(result.metrics["probe/far"])
    assert result.metrics["probe/normal"] < 0.01 * DotTask().normal.x.var()
    assert any("'far'" in m for m in result.details["messages"])


def test_max_eval_windows_limits_latent_error_only():
    """max_eval_windows caps the latent-error split; probe splits stay whole."""
    cfg = EvalConfig(probe_epochs=1, probe_batch_size=16, max_eval_windows=10)
    limited = run(PerfectModel(), cfg)
    whole = run(PerfectModel(), replace(cfg, max_eval_windows=None))
    assert limited.details["latent_error"]["windows"] == 10
    assert limited.details["probes"]["loc"]["splits"]["normal"]["windows"] == 48
    assert limited.metrics["probe/normal"] == whole.metrics["probe/normal"]
    first10 = np.std(DotTask().normal.x[:10], ddof=1)
    assert limited.metrics["collapse/std_min"] == pytest.approx(first10, rel=1e-4)


def test_bad_inputs_are_clear_errors():
    """Wrong latent size, clashing metric names and a missing target are named in the error."""
    model = PerfectModel()
    model.repr_dim = 3
    with pytest.raises(ValueError, match=r"model.rollout returned shape"):
        run(model)
    task = DotTask()
    suites = task.probe_suites()
    task.probe_suites = lambda: [suites[0], suites[0]]
    with pytest.raises(ValueError, match="both produce metric"):
        run(PerfectModel(), task=task)
    suites[1].targets = ("speed",)
    task.probe_suites = lambda: suites
    with pytest.raises(ValueError, match=r"target\(s\) \['speed'\] missing"):
        run(PerfectModel(), task=task)


class Tied(nn.Module):
    """Encoder and decoder with a weight shared inside the encoder, a buffer and a loose part."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        self.enc[2].weight = self.enc[0].weight  # tied: 16 weights counted once
        self.pred = nn.Linear(4, 2, bias=False)
        self.norm = nn.BatchNorm1d(4)  # 8 parameters in no part; running stats are buffers
        self.frozen = nn.Parameter(torch.zeros(5), requires_grad=False)

    def param_groups(self) -> dict[str, nn.Module]:
        return {"encoder": self.enc, "predictor": self.pred}


def test_param_counts_rule():
    """Shared tensors count once, buffers and frozen tensors not at all, leftovers go to other."""
    counts = param_counts(Tied())
    assert counts == {"encoder": 16 + 4 + 4, "predictor": 8, "other": 8, "total": 40}
    assert param_counts(Tied(), trainable_only=False)["total"] == 45


def test_param_counts_overlap_is_an_error():
    """A parameter in two parts is an error naming both."""
    model = Tied()
    model.param_groups = lambda: {"a": model.enc, "b": model.enc[0]}
    with pytest.raises(ValueError, match="'a' and 'b' overlap"):
        param_counts(model)


finite = st.floats(-100, 100, allow_nan=False, width=32)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float32, (3, 4, 2), elements=finite),
    arrays(np.float32, (3, 4, 2), elements=finite),
    st.floats(0.1, 10),
)
def test_latent_error_properties(p, t, scale):
    """Per-step error is the step's MSE, and relative error does not change with the scale."""
    p, t = torch.from_numpy(p), torch.from_numpy(t)
    out = latent_error(p, t)
    for step in range(1, 4):
        assert out["per_step"][step - 1] == pytest.approx(
            float(((p[:, step] - t[:, step]) ** 2).mean()), rel=1e-5, abs=1e-6
        )
    scaled = latent_error(p * scale, t * scale)
    if not math.isnan(out["rel_mean"]) and out["target_total_variance"] > 1e-3:
        assert scaled["rel_mean"] == pytest.approx(out["rel_mean"], rel=1e-4, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, (4, 3, 2), elements=finite),
    arrays(np.float64, (4, 3, 2), elements=finite),
    st.floats(0.5, 20),
    st.floats(0.5, 20),
)
def test_mse_px2_is_normalised_mse_times_std2(pred, target, sx, sy):
    """mse_px2 equals the DL25SP formula: MSE on normalised values rescaled by std^2, averaged."""
    std = np.array([sx, sy])
    normalised = ((pred / std - target / std) ** 2).mean(axis=(0, 1)) * std**2
    assert mse_px2(pred, target)["value"] == pytest.approx(normalised.mean(), rel=1e-9, abs=1e-9)


def test_linear_probe_recovers_an_affine_map():
    """Ridge on exact affine data recovers it (tiny regularisation)."""
    rng = np.random.default_rng(0)
    z = torch.from_numpy(rng.normal(size=(20, 3, 4)).astype(np.float32))
    w, b = torch.randn(4, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([1.0, -3.0])
    head = fit_linear_probe(z, z @ w + b)
    assert torch.allclose(head(z), z @ w + b, atol=1e-4)
