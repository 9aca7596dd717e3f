"""Tests of the external example model, loaded the way users plug models in: by file path.

Run with ``python -m pytest examples/test_example_model.py``; the main suite runs them too
(tests/test_plugins.py imports this file).
"""

from __future__ import annotations

from pathlib import Path

import torch

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.check import check_model
from jepa_bench.models.params import param_counts
from jepa_bench.models.plugins import resolve_model
from jepa_bench.record.schema import SAFE_NAME

MODEL = f"{Path(__file__).with_name('tiny_conv_gru.py')}:tiny_conv_gru"
WALL_DOOR = TaskSpec("wall_door", "1", (2, 65, 65), 2, 17, {"agent": (0,), "wall": (1,)})
TINY = dict(  # wall_door split sizes small enough for a run in seconds
    train=16, probe_normal_train=16, probe_normal_val=8, probe_wall_val=8,
    probe_wall_other_val=8, probe_expert_train=8, probe_expert_val=8,
)  # fmt: skip


def test_example_passes_the_model_check():
    """The example model follows the protocol on wall_door's shapes."""
    model = resolve_model(MODEL)(WALL_DOOR)
    check_model(model, WALL_DOOR, name=MODEL)
    counts = param_counts(model)
    assert counts["encoder"] + counts["predictor"] == counts["total"]


def test_rollout_is_the_recurrence_of_predict():
    """rollout starts at encode(obs0) and each later latent is predict of the previous one."""
    torch.manual_seed(0)
    model = resolve_model(MODEL)(WALL_DOOR, dim=8, width=4).eval()
    obs = torch.rand(3, 5, *WALL_DOOR.obs_shape)  # (B, T, C, H, W)
    actions = torch.randn(3, 4, WALL_DOOR.action_dim)  # (B, T-1, A)
    with torch.no_grad():
        z = model.rollout(obs[:, 0], actions)  # (B, T, D)
        torch.testing.assert_close(z[:, 0], model.encode(obs[:, :1])[:, 0])
        for t in range(4):
            step = model.predict(z[:, : t + 1], actions[:, : t + 1])
            torch.testing.assert_close(z[:, t + 1], step)


def test_example_trains_and_is_recorded(tmp_path):
    """A smoke run of the plugged-in model writes a valid record under a file-safe run id."""
    from jepa_bench.runner import execute_run, resolve

    cfg = resolve(dict(
        model=MODEL, task="wall_door", budget="smoke", out=str(tmp_path / "runs"),
        data_dir=str(tmp_path / "cache"), task_kwargs=dict(TINY), eval={"eval_untrained": False},
    ))  # fmt: skip
    record = execute_run(cfg, progress=False)
    assert SAFE_NAME.match(record["run_id"]) and "tiny_conv_gru" in record["run_id"]
    assert record["model"]["name"] == MODEL
    assert record["config"]["train"]["steps"] == 2  # the model's own smoke budget
    assert (tmp_path / "runs" / record["run_id"] / "model.safetensors").is_file()
    assert record["metrics"]["probe/normal"]["value"] > 0
