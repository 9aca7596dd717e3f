"""`jepa-bench submit` and `jepa-bench verify` on one smoke run (conftest.py) and tampered copies
of it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from jepa_bench.cli import main
from jepa_bench.evaluate import EVAL_PROTOCOL
from jepa_bench.leaderboard import tables
from jepa_bench.leaderboard.plot import plot_path
from jepa_bench.record.io import dumps, file_sha256, load_record
from jepa_bench.submit import (
    SubmissionError,
    compare_metrics,
    is_verified,
    submit_run,
    values_match,
    verify_record,
)
from jepa_bench.submit.submit import leaderboard_checkpoint


def edit_record(path: Path, change) -> None:
    """Apply ``change`` to the JSON of a record file in place (no validation)."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def row_of(board: Path, record: dict) -> str:
    """The headline markdown row of the record's configuration (its model's row)."""
    stem = f"{record['task']['name']}__{tables.table_version(record)}__{record['budget']}"
    md = (board / f"{stem}.md").read_text()
    return next(
        line for line in md.splitlines() if line.startswith(f"| {record['model']['name']} |")
    )


def board_copy(verified_board, tmp_path) -> tuple[Path, Path]:
    board, record = verified_board
    copy = Path(shutil.copytree(board, tmp_path / "board"))
    return copy, tables.record_path(copy, record)


def test_submit_then_verify_marks_the_row(verified_board):
    """A submitted row starts unverified; verify passes every metric and marks it verified."""
    board, record = verified_board
    assert record["verified"] is True and is_verified(record)
    block = record["verification"]
    assert block["tolerance"]["rtol"] == 1e-3 and block["tolerance"]["atol"] == 1e-4
    names = set(record["metrics"]) | {f"untrained:{k}" for k in record["untrained_metrics"]}
    assert set(block["metrics"]) == names and all(c["pass"] for c in block["metrics"].values())
    ckpt = leaderboard_checkpoint(board, record)
    assert file_sha256(ckpt) == record["checkpoint"]["sha256"]
    version = tables.table_version(record)
    assert version == f"wall_door-v1+{EVAL_PROTOCOL}"
    assert row_of(board, record).endswith("| yes |")
    stem = f"wall_door__{version}__smoke"
    assert plot_path(board, stem).read_text().startswith("<?xml")
    assert record["run_id"] in (board / f"{stem}.details.csv").read_text()


def test_verify_run_dir_prints_table_and_leaves_it_alone(run_dir):
    """Verifying a run directory reports every metric and writes nothing there."""
    before = (run_dir / "result.json").read_text()
    res = CliRunner().invoke(main, ["verify", str(run_dir), "-q", "--skip-untrained"])
    assert res.exit_code == 0, res.output
    assert "metric" in res.output and "recomputed" in res.output and "|diff|" in res.output
    assert "probe/normal" in res.output and "PASSED" in res.output
    assert (run_dir / "result.json").read_text() == before


def test_tampered_metrics_fail_verify(verified_board, tmp_path):
    """Changing any metric (trained or untrained) of a verified record makes verify fail."""
    board, path = board_copy(verified_board, tmp_path)
    original = load_record(path)

    def tamper(d):
        for i, entry in enumerate([*d["metrics"].values(), *d["untrained_metrics"].values()]):
            value = entry["value"]
            entry["value"] = (value + 1.0) * 1.01 + i if value is not None else 1.0

    edit_record(path, tamper)
    assert not is_verified(load_record(path))  # the stale verification no longer backs it
    res = CliRunner().invoke(main, ["verify", str(path), "-q"])
    assert res.exit_code == 1, res.output
    assert "FAILED" in res.output
    result = load_record(path)
    checks = result["verification"]["metrics"]
    assert result["verified"] is False and not any(c["pass"] for c in checks.values())
    for name, entry in original["metrics"].items():  # the recomputed values are the originals
        assert values_match(_nan(entry["value"]), _nan(checks[name]["recomputed"]), 1e-6, 0)
    assert row_of(board, result).endswith("| no |")


def _nan(v):
    return math.nan if v is None else v


def test_tampered_checkpoint_fails_verify(verified_board, tmp_path):
    """Other weights fail verify: by hash, and by metrics when the hash is forged to match."""
    board, path = board_copy(verified_board, tmp_path)
    record = load_record(path)
    ckpt = leaderboard_checkpoint(board, record)
    weights = load_file(str(ckpt))
    key = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 8)
    weights[key] = weights[key] + 0.5 * torch.randn_like(weights[key])
    save_file(weights, str(ckpt))
    res = CliRunner().invoke(main, ["verify", str(path), "-q"])
    assert res.exit_code == 1 and "has sha256" in res.output
    assert "metric" not in res.output.split("problem")[0]  # weights were not loaded

    def forge(d):
        d["checkpoint"]["sha256"] = file_sha256(ckpt)

    edit_record(path, forge)
    result = verify_record(path, untrained=False)
    assert result.status == "failed" and not result.problems
    probes = [c for c in result.checks if c.name.startswith(("probe/", "probe_seed_std/"))]
    assert any(not c.passed for c in probes)  # smoke probes barely train: the spread moves most


def test_verify_config_hash_and_missing_checkpoint(verified_board, tmp_path):
    """An edited config fails; a record whose weights are not here is an error (status 2)."""
    board, path = board_copy(verified_board, tmp_path)
    record = load_record(path)
    leaderboard_checkpoint(board, record).unlink()
    res = CliRunner().invoke(main, ["verify", str(path), "-q"])
    assert res.exit_code == 2 and "not found" in res.output
    assert is_verified(load_record(path))  # nothing compared, nothing changed
    no_ckpt = tmp_path / "no_ckpt.json"
    shutil.copy(path, no_ckpt)
    edit_record(no_ckpt, lambda d: d.update(checkpoint=None))
    result = verify_record(no_ckpt)
    assert result.status == "error" and "names none" in result.problems[0]

    def edit(d):
        d["config"]["eval"]["probe_lr"] = 1.0

    edit_record(path, edit)
    result = verify_record(path)
    assert result.status == "failed" and "config_hash" in result.problems[0]


def test_verify_refuses_another_eval_protocol(verified_board, tmp_path):
    """A record scored under another evaluation protocol is an error naming both protocols."""
    board, path = board_copy(verified_board, tmp_path)
    edit_record(path, lambda d: d.update(eval_protocol="eval-v1"))
    result = verify_record(path)
    assert result.status == "error" and not result.checks
    assert result.problems[0].startswith("eval_protocol: the record was scored under 'eval-v1'")
    res = CliRunner().invoke(main, ["verify", str(path), "-q"])
    assert res.exit_code == 2 and EVAL_PROTOCOL in res.output


def corrupt(run: Path, what: str) -> str:
    """Tamper with a copy of the run; returns a fragment of the expected refusal reason."""
    rec = run / "result.json"
    if what == "schema":
        edit_record(rec, lambda d: d.pop("metrics"))
        return "metrics: missing"
    if what == "json":
        rec.write_text(rec.read_text()[:-40])
        return "not valid JSON"
    if what == "no_checkpoint":
        (run / "model.safetensors").unlink()
        return "does not exist"
    if what == "checkpoint_bytes":
        data = bytearray((run / "model.safetensors").read_bytes())
        data[-1] ^= 0xFF
        (run / "model.safetensors").write_bytes(bytes(data))
        return "has sha256"
    if what == "pickle":
        shutil.copy(run / "model.safetensors", run / "model.pt")
        edit_record(rec, lambda d: d["checkpoint"].update(path="model.pt"))
        return "pickles are refused"
    if what == "config_hash":
        edit_record(rec, lambda d: d["config"]["train"].update(lr=1.0))
        return "config_hash"
    if what == "seed":
        edit_record(rec, lambda d: d.update(seed=7))
        return "seed: 7 in the record but 0 in its config"
    if what == "task_version":
        edit_record(rec, lambda d: d["task"].update(version="wall_door-v0"))
        return "the installed task 'wall_door' is 'wall_door-v1'"
    if what == "eval_protocol":
        edit_record(rec, lambda d: d.pop("eval_protocol"))
        return f"scored under 'eval-v1' but the installed evaluator follows {EVAL_PROTOCOL!r}"
    if what == "empty_metrics":
        edit_record(rec, lambda d: d.update(metrics={}))
        return "metrics: empty"
    raise AssertionError(what)


KINDS = ["schema", "json", "no_checkpoint", "checkpoint_bytes", "pickle", "config_hash", "seed",
         "task_version", "eval_protocol", "empty_metrics"]  # fmt: skip


@pytest.mark.parametrize("what", KINDS)
def test_submit_refuses_bad_runs_and_writes_nothing(run_copy, tmp_path, what):
    """Malformed, tampered or incomplete runs are refused with the reason; nothing is written."""
    reason = corrupt(run_copy, what)
    board = tmp_path / "board"
    with pytest.raises(SubmissionError) as info:
        submit_run(run_copy, board, allow_smoke=True)
    assert reason in str(info.value)
    assert not board.exists()


def test_submit_refuses_smoke_by_default_and_via_cli(run_dir, tmp_path):
    """A smoke run needs --allow-smoke; the CLI shows the reason and exits 1."""
    board = tmp_path / "board"
    res = CliRunner().invoke(main, ["submit", str(run_dir), "--leaderboard-dir", str(board)])
    assert res.exit_code == 1 and "smoke run is a test" in res.output
    assert not board.exists()


def test_submit_is_atomic_and_refuses_conflicts(run_copy, tmp_path, monkeypatch):
    """A failure while writing leaves nothing; a different record under the same id is refused."""
    board = tmp_path / "board"

    def explode(*args, **kwargs):
        raise OSError("disk full")

    from jepa_bench.submit import submit as submit_module

    monkeypatch.setattr(submit_module, "generate_tables", explode)
    with pytest.raises(OSError, match="disk full"):
        submit_run(run_copy, board, allow_smoke=True)
    assert not [p for p in board.rglob("*") if p.is_file()]
    monkeypatch.undo()

    edit_record(run_copy / "result.json", lambda d: d.update(verified=True))
    done = submit_run(run_copy, board, allow_smoke=True)
    assert load_record(done.record)["verified"] is False and done.notes
    assert row_of(board, load_record(done.record)).endswith("| no |")
    before = {p: p.read_bytes() for p in board.rglob("*") if p.is_file()}
    with pytest.raises(SubmissionError, match="already submitted"):
        submit_run(run_copy, board, allow_smoke=True)
    edit_record(run_copy / "result.json", lambda d: d.update(notes="changed"))
    with pytest.raises(SubmissionError, match="already holds a different record"):
        submit_run(run_copy, board, allow_smoke=True)
    assert {p: p.read_bytes() for p in board.rglob("*") if p.is_file()} == before


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0, 1e-2),
    st.floats(0, 1e-2),
    st.floats(-3, 3),
)
def test_tolerance_rule(value, rtol, atol, scale):
    """A change of value passes iff it is within atol + rtol * |recorded|; NaN only matches NaN."""
    bound = atol + rtol * abs(value)
    new = value + scale * bound
    checks = compare_metrics({"m": {"value": value, "higher_is_better": False}}, {"m": new},
                             rtol, atol)  # fmt: skip
    exact = abs(new - value) <= bound
    assert checks[0].passed == exact
    if abs(scale) > 1.01 and bound > 1e-9 * max(1.0, abs(value)):  # clear of rounding
        assert not checks[0].passed
    assert values_match(math.nan, math.nan, rtol, atol)
    assert not values_match(value, math.nan, rtol, atol)


def test_missing_or_extra_metrics_fail():
    """A metric absent from the record or from the recomputation fails."""
    checks = compare_metrics({"a": {"value": 1.0, "higher_is_better": False}}, {"b": 1.0})
    assert [(c.name, c.passed) for c in checks] == [("a", False), ("b", False)]


def test_is_verified_needs_a_consistent_block(verified_board):
    """The verified flag counts only with a passed block matching the record's values."""
    _, record = verified_board
    assert is_verified(record)
    for change in (
        lambda d: d.update(verified=False),
        lambda d: d.pop("verification"),
        lambda d: d["checkpoint"].update(sha256="0" * 64),
        lambda d: d.update(config_hash="abc"),
        lambda d: d["metrics"].pop("probe/normal"),
        lambda d: d["verification"]["metrics"]["probe/normal"].update(recorded=1.0),
        lambda d: d["verification"].update(verified=False),
    ):
        copy = json.loads(dumps(record))
        change(copy)
        assert not is_verified(copy)


def test_timing_metrics_are_not_compared():
    """Wall-clock metrics are skipped by verification; model metrics are still compared."""
    from jepa_bench.submit.compare import compare_metrics

    recorded = {
        "plan/time_per_call_ms": {"value": 183.0, "higher_is_better": False},
        "probe/normal": {"value": 9.7, "higher_is_better": False},
    }
    checks = compare_metrics(recorded, {"plan/time_per_call_ms": 177.0, "probe/normal": 9.9})
    assert [c.name for c in checks] == ["probe/normal"]
    assert not checks[0].passed


def test_a_record_with_timing_metrics_stays_verified(verified_board):
    """Verification skips wall-clock metrics, so their missing checks must not unverify a row;
    a model metric without a check still does."""
    _, record = verified_board
    copy = json.loads(dumps(record))
    copy["metrics"]["plan/time_per_call_ms"] = {"value": 183.0, "higher_is_better": False}
    assert is_verified(copy)
    copy["metrics"]["plan/same_room/success"] = {"value": 0.3, "higher_is_better": True}
    assert not is_verified(copy)


def test_verify_plans_without_the_wall_clock_cap(run_dir, monkeypatch):
    """A run caps planning time to keep its budget; verify drops the cap, so a busy verifier
    reproduces planning instead of skipping it (which would fail as "missing")."""
    from jepa_bench.submit import verify

    seen = []
    real = verify.evaluate

    def spy(model, task, cfg, **kw):
        seen.append(cfg.plan.max_minutes)
        return real(model, task, cfg, **kw)

    monkeypatch.setattr(verify, "evaluate", spy)
    recorded = load_record(run_dir / "result.json")["config"]["eval"]["plan"]["max_minutes"]
    assert recorded is not None  # the run itself had a cap
    res = CliRunner().invoke(main, ["verify", str(run_dir), "-q"])
    assert res.exit_code == 0, res.output
    assert seen == [None, None]  # the model and its untrained twin
