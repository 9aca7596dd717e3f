"""A verify that cannot be fooled: each way a record could lie fails `submit` or `verify` with a
named reason (made-up metrics, parameter counts, planted data, concurrent submits, capped
planning, replacing a verified row)."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jepa_bench.leaderboard import VerifiedRecordError, add_record, leaderboard_lock
from jepa_bench.record.io import load_record
from jepa_bench.submit import SubmissionError, is_verified, submit_run, verify_record
from jepa_bench.submit.checks import planning_capped
from tests.conftest import TINY
from tests.test_submit_verify import board_copy, edit_record


def refusal(run: Path, board: Path) -> str:
    """The reasons ``submit`` gives for ``run`` (it must refuse and write no record)."""
    with pytest.raises(SubmissionError) as info:
        submit_run(run, board, allow_smoke=True)
    assert not list(board.glob("records/*/*.json"))
    return str(info.value)


@pytest.mark.parametrize("name", ["probe/normal_time_s", "plan/same_room/wall_ms", "speed/x"])
def test_a_made_up_metric_is_refused(run_copy, tmp_path, name):
    """(a) A metric the evaluator never writes (wall-clock-like or not) is refused by submit and
    fails verify, naming it; it is not silently skipped as a timing."""
    metric = {name: {"value": 0.0, "higher_is_better": False}}
    edit_record(run_copy / "result.json", lambda d: d["metrics"].update(metric))
    assert f"metrics.{name}: unknown metric" in refusal(run_copy, tmp_path / "board")
    result = verify_record(run_copy, untrained=False)
    assert result.status == "failed" and not result.checks
    assert any(f"metrics.{name}: unknown metric" in p for p in result.problems)


def test_a_made_up_split_fails_verify_as_not_recomputed(run_copy):
    """(a) A declared pattern with a split the task does not have is compared, and fails."""
    metric = {"probe/easy": {"value": 0.0, "higher_is_better": False}}
    edit_record(run_copy / "result.json", lambda d: d["metrics"].update(metric))
    result = verify_record(run_copy, untrained=False)
    assert result.status == "failed"
    assert [(c.name, c.recomputed) for c in result.checks if not c.passed] == [("probe/easy", None)]


def test_a_made_up_metric_unverifies_a_verified_row(verified_board):
    """Adding an undeclared metric to a verified record un-verifies it (it has no check)."""
    _, record = verified_board
    edited = copy.deepcopy(record)
    edited["metrics"]["probe/normal_time_s"] = {"value": 0.0, "higher_is_better": False}
    assert is_verified(record) and not is_verified(edited)


def test_param_counts_are_checked_by_rebuilding_the_model(run_copy, verified_board, tmp_path):
    """(b) Parameter counts set to 10 are refused by submit and fail verify (the model is rebuilt
    and counted); the verified copy with edited counts is no longer verified."""
    edit_record(run_copy / "result.json", lambda d: d["model"]["params"].update(total=10))
    reasons = refusal(run_copy, tmp_path / "board")
    assert "model.params: the parameter counts are not those of the model rebuilt" in reasons
    assert "total: 10 recorded" in reasons
    _, path = board_copy(verified_board, tmp_path)
    edit_record(path, lambda d: d["model"]["params"].update(total=10))
    assert not is_verified(load_record(path))
    result = verify_record(path, untrained=False)
    assert result.status == "failed" and not result.checks
    assert result.problems[0].startswith("model.params:")


def _plant(folder: Path) -> None:
    """Planted wall_door data in ``folder``: the agent never moves; its cache file carries
    checksums consistent with the planted arrays."""
    from jepa_bench.data.wall_door import cache as cache_mod
    from jepa_bench.data.wall_door.task import wall_door

    task = wall_door(budget="smoke", data_dir=str(folder), **TINY)
    splits = {name: dict(arrays) for name, arrays in task.splits().items()}
    for arrays in splits.values():
        arrays["locations"] = arrays["locations"] * 0 + 32.0
    key = cache_mod.cache_key(task.data_seed, task.sizes)
    cache_mod.save(task.cache_path, splits, key)
    assert cache_mod.load(task.cache_path, key)["train"]["locations"].max() == 32.0  # accepted


def test_planted_data_fail_verify(run_dir, tmp_path, monkeypatch):
    """(c) The data's hash is computed from the data and stored at run time: a run made on
    planted data (self-consistent checksums) fails verify on the verifier's data, and an honest
    record fails on planted data; the record's own data folder is never used."""
    from jepa_bench.runner import execute_run, resolve

    planted = tmp_path / "planted"
    _plant(planted)
    cfg = resolve(dict(
        model="convnext_mlp_smoke", task="wall_door", budget="smoke", out=str(tmp_path / "runs"),
        data_dir=str(planted), task_kwargs=dict(TINY),
    ))  # fmt: skip
    record = execute_run(cfg, progress=False)
    honest = load_record(run_dir / "result.json")
    assert record["task"]["details"]["data_sha256"] != honest["task"]["details"]["data_sha256"]
    monkeypatch.setenv("JEPA_BENCH_CACHE", str(tmp_path / "verifier"))  # the verifier's cache
    result = verify_record(tmp_path / "runs" / record["run_id"], untrained=False)
    assert result.status == "failed" and not result.checks  # nothing compared on other data
    assert "not the data the run was made on" in result.problems[0]
    result = verify_record(run_dir, untrained=False, data_dir=str(planted))
    assert result.status == "failed" and "task.details.data_sha256" in result.problems[0]
    assert verify_record(run_dir, untrained=False).passed  # the verifier's own data: fine


def test_a_record_without_a_data_hash_is_refused(run_copy, tmp_path):
    """(c) A record that does not say which data it was made on is refused and fails verify."""
    edit_record(run_copy / "result.json", lambda d: d["task"]["details"].pop("data_sha256"))
    assert "task.details.data_sha256: missing" in refusal(run_copy, tmp_path / "board")
    assert "data_sha256: missing" in verify_record(run_copy).problems[0]


def test_two_simultaneous_submits_one_wins(run_copy, tmp_path, monkeypatch):
    """(d) Two submits of the same run at once: exactly one succeeds, the other fails with a
    named reason; one record is written."""
    from jepa_bench.submit import submit as submit_module

    real = submit_module.generate_tables
    monkeypatch.setattr(submit_module, "generate_tables", lambda d: (time.sleep(0.3), real(d))[1])
    board, barrier, outcomes = tmp_path / "board", threading.Barrier(2), []

    def submit() -> None:
        barrier.wait()
        try:
            submit_run(run_copy, board, allow_smoke=True)
            outcomes.append("ok")
        except SubmissionError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=lambda o: o != "ok")[0] == "ok" and outcomes.count("ok") == 1
    loser = next(o for o in outcomes if o != "ok")
    assert "already submitted" in loser
    assert len(list(board.glob("records/*/*.json"))) == 1
    assert not (board / ".leaderboard.lock").exists()


def test_a_held_lock_is_a_named_refusal(run_copy, tmp_path):
    """(d) A submit that cannot take the leaderboard's lock in time fails naming the lock."""
    board = tmp_path / "board"
    with leaderboard_lock(board):
        with pytest.raises(SubmissionError, match=r"lock: .*\.leaderboard\.lock is held by"):
            submit_run(run_copy, board, allow_smoke=True, lock_timeout=0)
    assert submit_run(run_copy, board, allow_smoke=True).record.is_file()


@pytest.mark.slow
def test_two_submit_processes_one_wins(run_dir, tmp_path):
    """(d) Two `jepa-bench submit` processes started together: one exits 0, the other 1."""
    board = tmp_path / "board"
    args = [sys.executable, "-m", "jepa_bench", "submit", str(run_dir), "--leaderboard-dir",
            str(board), "--allow-smoke"]  # fmt: skip
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]  # fmt: skip
    outs = [(p.wait(timeout=300), p.stdout.read() if p.stdout else "") for p in procs]
    assert sorted(code for code, _ in outs) == [0, 1], outs
    loser = next(out for code, out in outs if code == 1)
    assert "already submitted" in loser or "lock:" in loser
    assert len(list(board.glob("records/*/*.json"))) == 1


def test_capped_planning_is_refused_at_submit_with_a_message(run_copy, tmp_path):
    """(e) A run whose planning stopped at its time cap has no plan/ metrics: submit refuses it
    saying why, and verify reports it cannot be verified instead of failing on each metric."""
    stopped = {"messages": ["planning stopped after 2 of 20 episodes: projected 31 min"]}
    edit_record(
        run_copy / "result.json", lambda d: d["details"]["trained"].update(planning=stopped)
    )
    reasons = refusal(run_copy, tmp_path / "board")
    assert "planning: the run's planning stopped at its time cap" in reasons
    result = verify_record(run_copy)
    assert result.status == "error" and "time cap" in result.problems[0] and not result.checks


def test_a_planning_task_without_plan_metrics_counts_as_capped(run_dir):
    """(e) With planning on, a task that offers planning and no plan/ metrics: capped."""
    from jepa_bench.data.wall_door.task import wall_door

    record = copy.deepcopy(load_record(run_dir / "result.json"))
    task = wall_door(budget="smoke", **TINY)
    assert not planning_capped(record, task)  # smoke runs do not plan
    record["config"]["eval"]["planning"] = True
    assert planning_capped(record, task)
    record["metrics"]["plan/same_room/success"] = {"value": 0.5, "higher_is_better": True}
    assert not planning_capped(record, task)


def test_a_submit_never_replaces_a_verified_record(verified_board, run_dir, tmp_path):
    """(f) Submitting the run again, or adding its unverified record, leaves the verified row."""
    board, path = board_copy(verified_board, tmp_path)
    before = path.read_bytes()
    with pytest.raises(SubmissionError, match="already submitted and verified"):
        submit_run(run_dir, board, allow_smoke=True)
    with pytest.raises(VerifiedRecordError, match="an unverified one never replaces it"):
        add_record(board, load_record(run_dir / "result.json"))
    assert path.read_bytes() == before and is_verified(load_record(path))
