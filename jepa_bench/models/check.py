"""Check a freshly built model against a task with a dummy batch, before any training.

``check_model`` calls every protocol method once on random inputs of the task's shapes and
raises ``ModelCheckError`` listing each method whose output is missing, of the wrong type, shape or
dtype, or not finite. The check leaves no trace: it runs in eval mode without gradients, restores
the training flags, the buffers (e.g. BatchNorm statistics) and the global torch RNG state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.params import param_counts
from jepa_bench.models.protocol import TrainLatents

METHODS = ("encode", "predict", "rollout", "train_latents", "param_groups")
CHECK_BATCH = 2
CHECK_STEPS = 4  # frames of the dummy window (at most the task's seq_len); T is free by protocol


class ModelCheckError(ValueError):
    """A model that does not follow the protocol; the message lists every problem found."""

    def __init__(self, model: str, task: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"model {model!r} does not fit task {task!r}:\n  - " + "\n  - ".join(problems)
        )


def _shape(x: Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


def _check_tensor(
    method: str, what: str, out: Any, expected: tuple[int, ...], dims: str, problems: list[str]
) -> None:
    """Append a problem unless ``out`` is a finite float32 tensor of shape ``expected``."""
    where = f"{method}: {what}"
    want = f"{expected} {dims}".rstrip()
    if not isinstance(out, Tensor):
        problems.append(f"{where} must be a torch.Tensor of shape {want}, got {type(out).__name__}")
        return
    if _shape(out) != expected:
        problems.append(f"{where} has shape {_shape(out)}; expected {want}")
    if out.dtype != torch.float32:
        problems.append(f"{where} has dtype {out.dtype}; expected torch.float32")
    elif not bool(torch.isfinite(out).all()):
        bad = int((~torch.isfinite(out)).sum())
        problems.append(f"{where} contains {bad} NaN or infinite value(s) of {out.numel()}")


RAISED = object()  # what _call returns when the method raised


def _call(method: str, fn: Callable[[], Any], problems: list[str]) -> Any:
    try:
        return fn()
    except Exception as e:  # the model's own error, reported under the method's name
        problems.append(f"{method} raised {type(e).__name__}: {e}")
        return RAISED


def dummy_inputs(
    spec: TaskSpec, batch: int = CHECK_BATCH, steps: int = CHECK_STEPS, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Random (obs (B, T, C, H, W) in [0, 1], actions (B, T-1, A)) float32 tensors for ``spec``."""
    gen = torch.Generator().manual_seed(seed)
    t = max(2, min(steps, spec.seq_len))
    obs = torch.rand(batch, t, *spec.obs_shape, generator=gen)  # (B, T, C, H, W)
    actions = torch.randn(batch, t - 1, spec.action_dim, generator=gen)  # (B, T-1, A)
    return obs, actions


def _check_encode(model: Any, obs: Tensor, d: int, problems: list[str]) -> None:
    b, t = obs.shape[:2]
    z = _call("encode", lambda: model.encode(obs), problems)
    if z is not RAISED:
        what = f"latents for obs {_shape(obs)}"
        _check_tensor("encode", what, z, (b, t, d), "= (B, T, D)", problems)


def _check_predict(model: Any, actions: Tensor, d: int, problems: list[str]) -> None:
    b, steps = actions.shape[:2]
    gen = torch.Generator().manual_seed(1)
    for k in sorted({1, steps}):
        hist = torch.rand(b, k, d, generator=gen).to(actions.device)  # (B, K, D)
        act = actions[:, :k]  # (B, K, A)

        def call(h: Tensor = hist, a: Tensor = act) -> Any:  # binds this iteration's inputs
            return model.predict(h, a)

        out = _call("predict", call, problems)
        if out is not RAISED:
            what = f"next latent for history {(b, k, d)} and actions {_shape(act)}"
            _check_tensor("predict", what, out, (b, d), "= (B, D)", problems)


def _check_rollout(model: Any, obs: Tensor, actions: Tensor, d: int, problems: list[str]) -> None:
    b, t = obs.shape[:2]
    obs0 = obs[:, 0]  # (B, C, H, W)
    z = _call("rollout", lambda: model.rollout(obs0, actions), problems)
    if z is not RAISED:
        what = f"latents for obs0 {_shape(obs0)} and actions {_shape(actions)}"
        _check_tensor("rollout", what, z, (b, t, d), "= (B, T, D)", problems)


def _check_train_latents(
    model: Any, obs: Tensor, actions: Tensor, d: int, problems: list[str]
) -> None:
    b, t = obs.shape[:2]
    lat = _call("train_latents", lambda: model.train_latents(obs, actions), problems)
    if lat is RAISED:
        return
    if not isinstance(lat, TrainLatents):
        kind = type(lat).__name__
        problems.append(f"train_latents: must return a TrainLatents(pred, target, emb), got {kind}")
        return
    what = f"emb for obs {_shape(obs)}"
    emb_shape = _shape(lat.emb) if isinstance(lat.emb, Tensor) else None
    ok = emb_shape is not None and len(emb_shape) == 3 and 1 <= emb_shape[1] <= t
    if not ok or emb_shape is None or (emb_shape[0], emb_shape[2]) != (b, d):
        got = emb_shape if emb_shape is not None else type(lat.emb).__name__
        problems.append(
            f"train_latents: {what} has shape {got}; expected ({b}, T_e, {d}) with "
            f"1 <= T_e <= {t} = (B, frames encoded, D)"
        )
    else:
        _check_tensor("train_latents", what, lat.emb, emb_shape, "", problems)
    pred_shape = _shape(lat.pred) if isinstance(lat.pred, Tensor) else None
    if pred_shape is None or len(pred_shape) != 3 or (pred_shape[0], pred_shape[2]) != (b, d):
        got = pred_shape if pred_shape is not None else type(lat.pred).__name__
        problems.append(
            f"train_latents: pred has shape {got}; expected ({b}, T', {d}) = (B, T', D)"
        )
        return
    _check_tensor("train_latents", "pred", lat.pred, pred_shape, "", problems)
    _check_tensor("train_latents", "target", lat.target, pred_shape, "(that of pred)", problems)


def _protocol_problems(model: nn.Module, spec: TaskSpec, device: torch.device) -> list[str]:
    problems: list[str] = []
    missing = [m for m in METHODS if not callable(getattr(model, m, None))]
    problems += [f"{m}: missing (a model must define {', '.join(METHODS)})" for m in missing]
    d = getattr(model, "repr_dim", None)
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        problems.append(f"repr_dim: must be a positive int (the latent size D), got {d!r}")
        return problems  # no expected shapes without D
    obs, actions = (x.to(device) for x in dummy_inputs(spec))  # (B, T, C, H, W), (B, T-1, A)
    if "encode" not in missing:
        _check_encode(model, obs, d, problems)
    if "predict" not in missing:
        _check_predict(model, actions, d, problems)
    if "rollout" not in missing:
        _check_rollout(model, obs, actions, d, problems)
    if "train_latents" not in missing:
        _check_train_latents(model, obs, actions, d, problems)
    if "param_groups" not in missing:
        _check_param_groups(model, problems)
    return problems


def _check_param_groups(model: Any, problems: list[str]) -> None:
    try:
        groups = model.param_groups()
    except Exception as e:
        problems.append(f"param_groups raised {type(e).__name__}: {e}")
        return
    if not isinstance(groups, dict):
        kind = type(groups).__name__
        problems.append(f"param_groups: must return a dict of part name -> nn.Module, got {kind}")
        return
    try:
        param_counts(model)
    except (TypeError, ValueError) as e:
        problems.append(f"param_groups: {e}")


def check_model(model: Any, spec: TaskSpec, name: str = "model") -> None:
    """Raise ``ModelCheckError`` unless ``model`` follows the protocol on ``spec``'s shapes."""
    if not isinstance(model, nn.Module):
        kind = type(model).__name__
        raise ModelCheckError(name, spec.name, [f"the factory returned {kind}, not an nn.Module"])
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    modes = [(m, m.training) for m in model.modules()]
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    try:
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            model.eval()
            problems = _protocol_problems(model, spec, device)
    finally:
        for m, training in modes:
            m.training = training
        if buffers:
            with torch.no_grad():
                for k, v in model.named_buffers():
                    if k in buffers and v.shape == buffers[k].shape:
                        v.copy_(buffers[k])
    if problems:
        raise ModelCheckError(name, spec.name, problems)
