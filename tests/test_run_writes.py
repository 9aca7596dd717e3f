"""`jepa-bench run` writes only into its run directory (and a leaderboard folder it is given):
the repository's leaderboard changes only through `submit` and `verify`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # trains end to end; `-m "not slow"` skips


def files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_run_writes_only_its_run_directory(tmp_path, monkeypatch):
    """A smoke run from a checkout-like folder adds files only under runs/ and the named
    --leaderboard-dir; the folder's leaderboard/ is left byte for byte."""
    work = tmp_path / "checkout"
    record = next((ROOT / "leaderboard" / "records").glob("*/*.json"))
    dest = work / "leaderboard" / "records" / record.parent.name / record.name
    dest.parent.mkdir(parents=True)
    shutil.copy(record, dest)
    (work / "leaderboard" / "README.md").write_text("tables\n")
    before = files(work)
    monkeypatch.chdir(work)
    named = tmp_path / "my_board"
    args = ["run", "-m", "convnext_mlp_smoke", "-t", "wall_door", "-b", "smoke", "-q",
            "--data-dir", str(tmp_path / "cache"), "--leaderboard-dir", str(named)]  # fmt: skip
    args += [f"--task-arg={k}={v}" for k, v in TINY.items()]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    after = files(work)
    assert {p: after.get(p) for p in before} == before  # nothing there changed
    added = [p.relative_to(work) for p in after if p not in before]
    assert added and all(p.parts[0] == "runs" for p in added)
    assert list(named.glob("records/wall_door/*.json"))  # the folder it was asked to fill


def test_run_directories_are_git_ignored():
    """runs/ (the default --out) is ignored by the repository's .gitignore."""
    assert "runs/" in (ROOT / ".gitignore").read_text().split()
