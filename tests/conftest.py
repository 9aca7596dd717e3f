"""Fixtures shared by the submit / verify tests: one smoke run and a leaderboard verifying it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from jepa_bench.record.io import load_record

TINY = dict(
    train=16, probe_normal_train=16, probe_normal_val=8, probe_wall_val=8,
    probe_wall_other_val=8, probe_expert_train=8, probe_expert_val=8,
)  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One smoke run of convnext_mlp_smoke on a tiny wall_door (shared, never modified)."""
    from jepa_bench.runner import execute_run, resolve

    root = tmp_path_factory.mktemp("run")
    cfg = resolve(dict(
        model="convnext_mlp_smoke", task="wall_door", budget="smoke", out=str(root / "runs"),
        data_dir=str(root / "cache"), task_kwargs=dict(TINY),
    ))  # fmt: skip
    record = execute_run(cfg, progress=False)
    return root / "runs" / record["run_id"]


@pytest.fixture
def run_copy(run_dir, tmp_path) -> Path:
    """A copy of the run directory that a test may tamper with."""
    return Path(shutil.copytree(run_dir, tmp_path / run_dir.name))


@pytest.fixture(scope="module")
def verified_board(run_dir, tmp_path_factory) -> tuple[Path, dict]:
    """A leaderboard holding the run, submitted and verified once (shared, never modified)."""
    board = tmp_path_factory.mktemp("board")
    args = ["submit", str(run_dir), "--leaderboard-dir", str(board), "--allow-smoke"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    path = next((board / "records" / "wall_door").glob("*.json"))
    assert load_record(path)["verified"] is False
    res = CliRunner().invoke(main, ["verify", str(path), "-q"])
    assert res.exit_code == 0, res.output
    return board, load_record(path)
