"""The dummy-batch protocol check run on every model right after it is built."""

from __future__ import annotations

import re

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from jepa_bench.cli import main
from jepa_bench.data.base import TaskSpec
from jepa_bench.models.check import ModelCheckError, check_model, dummy_inputs
from jepa_bench.models.protocol import TrainLatents, recurrent_rollout
from jepa_bench.registry import MODELS

SPEC = TaskSpec("toy", "toy-v1", obs_shape=(2, 6, 6), action_dim=2, seq_len=5)


class Linear(nn.Module):
    """A minimal protocol model: flattened frame -> Linear encoder, Linear predictor."""

    def __init__(self, spec: TaskSpec, dim: int = 8, out_dim: int | None = None) -> None:
        super().__init__()
        c, h, w = spec.obs_shape
        self.enc = nn.Linear(c * h * w, dim if out_dim is None else out_dim)
        self.pred = nn.Linear(dim + spec.action_dim, dim)
        self.repr_dim = dim

    def encode(self, obs):
        # obs: (B, T, C, H, W) -> (B, T, D)
        return self.enc(obs.flatten(2))

    def predict(self, history, actions):
        # history: (B, K, D), actions: (B, K, A) -> (B, D)
        return self.pred(torch.cat([history[:, -1], actions[:, -1]], -1))

    def rollout(self, obs0, actions):
        return recurrent_rollout(self, self.encode(obs0[:, None])[:, 0], actions)

    def train_latents(self, obs, actions):
        emb = self.encode(obs)
        pred = recurrent_rollout(self, emb[:, 0], actions)
        return TrainLatents(pred=pred[:, 1:], target=emb[:, 1:], emb=emb)

    def param_groups(self):
        return {"encoder": self.enc, "predictor": self.pred}


def problems_of(model: nn.Module, spec: TaskSpec = SPEC) -> str:
    with pytest.raises(ModelCheckError) as info:
        check_model(model, spec, name="m")
    return str(info.value)


def test_correct_model_passes():
    """A model that follows the protocol passes without error."""
    check_model(Linear(SPEC), SPEC)


@pytest.mark.parametrize("name", ["convnext_mlp_smoke", "lewm_smoke"])
def test_builtin_models_pass(name):
    """Built-in models pass the check on the wall_door shapes."""
    spec = TaskSpec("wd", "1", (2, 65, 65), 2, 17, {"agent": (0,), "wall": (1,)}, ("wall",))
    check_model(MODELS.get(name)(spec), spec, name=name)


def test_wrong_encode_shape_names_method_expected_and_actual():
    """A latent of the wrong size is reported under encode with both shapes."""
    msg = problems_of(Linear(SPEC, dim=8, out_dim=7))
    b, t = dummy_inputs(SPEC)[0].shape[:2]
    assert re.search(rf"encode: .*has shape \({b}, {t}, 7\); expected \({b}, {t}, 8\)", msg)
    assert "'m'" in msg and "'toy'" in msg


def test_wrong_dtype_is_reported():
    """A float64 prediction is reported under predict with both dtypes."""

    class Double(Linear):
        def predict(self, history, actions):
            return super().predict(history, actions).double()

    msg = problems_of(Double(SPEC))
    assert "predict:" in msg and "torch.float64" in msg and "expected torch.float32" in msg


def test_nan_output_is_reported():
    """A NaN in the rollout is reported under rollout."""

    class NaNRollout(Linear):
        def rollout(self, obs0, actions):
            z = super().rollout(obs0, actions)
            return z * torch.nan

    msg = problems_of(NaNRollout(SPEC))
    assert "rollout:" in msg and "NaN" in msg
    assert "encode:" not in msg  # only the faulty method is named


def test_missing_method_and_repr_dim():
    """A missing method and a missing repr_dim are each named."""

    class NoTrain(Linear):
        train_latents = None

    assert "train_latents: missing" in problems_of(NoTrain(SPEC))
    model = Linear(SPEC)
    del model.repr_dim
    assert "repr_dim: must be a positive int" in problems_of(model)


def test_train_latents_type_and_shapes():
    """train_latents must return TrainLatents with pred and target of one (B, T', D) shape."""

    class Tuple(Linear):
        def train_latents(self, obs, actions):
            lat = super().train_latents(obs, actions)
            return lat.pred, lat.target, lat.emb

    class Mismatch(Linear):
        def train_latents(self, obs, actions):
            lat = super().train_latents(obs, actions)
            return TrainLatents(lat.pred, lat.target[:, :-1], lat.emb)

    assert "must return a TrainLatents" in problems_of(Tuple(SPEC))
    msg = problems_of(Mismatch(SPEC))
    assert re.search(r"train_latents: target has shape \(2, 2, 8\); expected \(2, 3, 8\)", msg)


def test_emb_may_cover_fewer_frames_but_not_more():
    """emb holds the frames a model encoded: a subset of the window passes, more frames fail."""

    class Subset(Linear):
        def train_latents(self, obs, actions):
            lat = super().train_latents(obs, actions)
            return TrainLatents(lat.pred, lat.target, lat.emb[:, ::2])

    class TooMany(Linear):
        def train_latents(self, obs, actions):
            lat = super().train_latents(obs, actions)
            return TrainLatents(lat.pred, lat.target, torch.cat([lat.emb, lat.emb], 1))

    check_model(Subset(SPEC), SPEC, name="m")  # raises ModelCheckError on any problem
    assert re.search(
        r"train_latents: emb for obs .* has shape \(2, 8, 8\); expected", problems_of(TooMany(SPEC))
    )


def test_exceptions_and_param_groups_are_reported():
    """A method that raises, and overlapping parameter groups, are reported by name."""

    class Raises(Linear):
        def encode(self, obs):
            raise RuntimeError("boom")

        def param_groups(self):
            return {"encoder": self.enc, "all": self}

    msg = problems_of(Raises(SPEC))
    assert "encode raised RuntimeError: boom" in msg
    assert "param_groups: parts 'encoder' and 'all' overlap" in msg
    assert "not an nn.Module" in problems_of(object())  # type: ignore[arg-type]


def test_check_leaves_no_trace():
    """The check keeps the RNG state, training flags, buffers and parameters as they were."""

    class Counting(Linear):
        def __init__(self, spec):
            super().__init__(spec)
            self.register_buffer("calls", torch.zeros(()))
            self.drop = nn.Dropout(0.5)

        def encode(self, obs):
            self.calls += 1
            torch.rand(1)  # draws from the global generator
            return self.drop(super().encode(obs))

    model = Counting(SPEC).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    check_model(model, SPEC)
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training and model.drop.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@settings(max_examples=25, deadline=None)
@given(
    c=st.integers(1, 3),
    hw=st.integers(2, 7),
    a=st.integers(1, 3),
    t=st.integers(2, 8),
    d=st.integers(1, 9),
    off=st.integers(-3, 3),
)
def test_shape_property(c, hw, a, t, d, off):
    """On any task shapes, the check passes iff encode's latent size equals repr_dim."""
    spec = TaskSpec("p", "1", (c, hw, hw), a, t)
    model = Linear(spec, dim=d, out_dim=max(1, d + off))
    if max(1, d + off) == d:
        check_model(model, spec)
    else:
        assert "encode:" in problems_of(model, spec)


def test_cli_run_rejects_bad_model_before_training(tmp_path):
    """`jepa-bench run` with a broken plug-in exits with the check's message and no run dir."""
    src = tmp_path / "broken.py"
    src.write_text(
        "from torch import nn\n"
        "class M(nn.Module):\n"
        "    repr_dim = 4\n"
        "    def encode(self, obs):\n"
        "        return obs.flatten(2)[..., :3]\n"
        "def make(spec, **kw):\n"
        "    return M()\n"
    )
    out = tmp_path / "runs"
    res = CliRunner().invoke(
        main,
        ["run", "--model", f"{src}:make", "--budget", "smoke", "--out", str(out), "-q",
         "--data-dir", str(tmp_path / "cache")],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "does not fit task 'wall_door'" in res.output
    assert "predict: missing" in res.output and "encode:" in res.output
    assert not out.exists()
