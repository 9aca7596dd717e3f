"""The ridge check: what a wall_door model's encoded and rolled-out latents hold of the agent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from jepa_bench.data.wall_door import generate as gen
from jepa_bench.data.wall_door import wall_door
from jepa_bench.report.ridge_check import main, ridge_check

TINY = {s: 24 for s in gen.SPLITS}


class Centroid(nn.Module):
    """Encodes the agent channel's centre of mass (the location, linearly); rolls out frame 0's."""

    repr_dim = 3

    def encode(self, obs: Tensor) -> Tensor:
        agent = obs[:, :, 0]  # (B, T, H, W)
        grid = torch.arange(agent.shape[-1], dtype=agent.dtype)
        mass = agent.sum((-1, -2)).clamp_min(1e-6)
        x = (agent.sum(-2) * grid).sum(-1) / mass
        y = (agent.sum(-1) * grid).sum(-1) / mass
        return torch.stack([x, y, torch.ones_like(x)], dim=-1)  # (B, T, 3)

    def rollout(self, obs0: Tensor, actions: Tensor) -> Tensor:
        z0 = self.encode(obs0.unsqueeze(1))  # (B, 1, 3)
        return z0.expand(-1, actions.shape[1] + 1, -1)


class Constant(Centroid):
    def encode(self, obs: Tensor) -> Tensor:
        return torch.zeros(*obs.shape[:2], 3)


def test_a_model_that_holds_the_location_is_near_zero_and_a_constant_one_at_chance(
    tmp_path: Path,
) -> None:
    task = wall_door(budget="smoke", data_dir=str(tmp_path), **TINY)
    seen = ridge_check(Centroid(), task, windows=24)
    assert seen.encoded < 0.05 * seen.chance  # the centroid is the location, up to the blob's cut
    assert seen.rollout > 5 * seen.encoded  # frame 0's location stands for every later frame
    assert seen.rollout_per_step[0] < 0.05 * seen.chance  # ... and is right at t = 0
    blind = ridge_check(Constant(), task, windows=24)
    assert blind.encoded == pytest.approx(blind.chance, rel=0.05)


def test_the_command_reads_a_run_directory(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    main([str(run_dir), "--step", "0", "--windows", "8"])
    main([str(run_dir), "--windows", "8"])
    out = capsys.readouterr().out
    assert out.startswith("untrained: chance ") and "\nfinal: chance " in out
    with pytest.raises(SystemExit):
        main([str(run_dir), "--step", "7"])  # no snapshot of step 7
    with pytest.raises(SystemExit):
        main([str(run_dir.parent)])  # not a run directory
