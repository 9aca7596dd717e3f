"""Leaderboard tables generated from result records, and the `leaderboard` command."""

from __future__ import annotations

import copy
import csv
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from jepa_bench.leaderboard import (
    LeaderboardWarning,
    add_record,
    check_tables,
    generate_tables,
    record_path,
)
from jepa_bench.record import RecordError, load_record, write_record

ARTIFACTS = Path(__file__).parent / "artifacts"
GOLDEN = {  # generated file -> golden copy in tests/artifacts
    "wall_door__1__default.md": "golden_wall_door__1__default.md",
    "wall_door__1__default.csv": "golden_wall_door__1__default.csv",
    "wall_door__1__default.details.csv": "golden_wall_door__1__default.details.csv",
    "README.md": "golden_leaderboard_README.md",
}
TABLE = "wall_door__1__default"


def fixed_records() -> list[dict]:
    return [load_record(ARTIFACTS / "records" / f"record_{x}.json") for x in "ab"]


def variant(rec: dict, run_id: str, **changes) -> dict:
    """A copy of ``rec`` with a new run id and some fields changed (dotted keys for nesting)."""
    out = copy.deepcopy(rec)
    out["run_id"] = run_id
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = out
        for key in parents:
            target = target[key]
        target[last] = value
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_golden_tables(tmp_path):
    """Two fixed records give exactly the stored headline markdown, CSVs and index."""
    for rec in fixed_records():
        add_record(tmp_path, rec)
    generate_tables(tmp_path)
    for name, golden in GOLDEN.items():
        text = (tmp_path / name).read_text()
        if os.environ.get("JEPA_BENCH_REGEN_ARTIFACTS"):
            (ARTIFACTS / golden).write_text(text)
        assert text == (ARTIFACTS / golden).read_text(), name


def test_tables_per_task_version_and_budget_sorted(tmp_path):
    """One table per (task, version, budget); rows sorted by the first probe metric, NaN last."""
    a, b = fixed_records()
    add_record(tmp_path, a)
    add_record(tmp_path, b)
    worst = {
        "metrics.probe/normal.value": 50.0,
        "regularizer.spec": "sigreg",
        "config.reg": "sigreg",
    }
    add_record(tmp_path, variant(a, "worst", **worst))
    nan = {"metrics.probe/normal.value": math.nan, "regularizer.spec": None, "config.reg": "none"}
    add_record(tmp_path, variant(a, "nan-run", **nan))
    add_record(tmp_path, variant(a, "v2-run", **{"task.version": "2"}))
    add_record(tmp_path, variant(a, "smoke-run", budget="smoke"))
    r2 = {"probe/x/r2": {"value": 0.5, "higher_is_better": True}}
    add_record(tmp_path, variant(a, "r2-low", **{"task.name": "arm", "metrics": r2}))
    r2_high = {"probe/x/r2": {"value": 0.9, "higher_is_better": True}}
    high = {"task.name": "arm", "metrics": r2_high, "config.reg": "sigreg"}
    add_record(tmp_path, variant(a, "r2-high", **high))
    generate_tables(tmp_path)

    stems = ("arm__1__default", TABLE, "wall_door__1__smoke", "wall_door__2__default")
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    expected = ["README.md", "index.html"]
    expected += [f"{s}{e}" for s in stems for e in (".csv", ".details.csv", ".md")]
    assert names == sorted(expected)
    order = [r["run_ids"] for r in rows(tmp_path / f"{TABLE}.csv") if r["kind"] == "trained"]
    assert order == [b["run_id"], a["run_id"], "worst", "nan-run"]  # 8.5 < 12.75 < 50 < nan
    arm = [r["run_ids"] for r in rows(tmp_path / "arm__1__default.csv") if r["kind"] == "trained"]
    assert arm == ["r2-high", "r2-low"]
    readme = (tmp_path / "README.md").read_text()
    assert all(f"({s}.md)" in readme for s in stems)
    assert "do not edit by hand" in readme


def test_markdown_header_and_details_values(tmp_path):
    """Headers carry labels and arrows from the declarations; the details CSV holds every
    declared metric of every run at full precision, the untrained twin's beside it."""
    a, b = fixed_records()
    add_record(tmp_path, a)
    add_record(tmp_path, b)
    generate_tables(tmp_path)
    md = (tmp_path / f"{TABLE}.md").read_text()
    assert "| normal MSE ↓ | wall MSE ↓ |" in md and "MSE / chance ↓" in md
    assert "collapse" not in md.split("## References")[0]  # a detail, not a headline column
    row = rows(tmp_path / f"{TABLE}.details.csv")[1]
    assert row["run_id"] == a["run_id"]
    for key, entry in a["metrics"].items():
        assert float(row[key]) == entry["value"]
    assert float(row["untrained/probe/wall"]) == a["untrained_metrics"]["probe/wall"]["value"]
    assert int(row["params"]) == a["model"]["params"]["total"]


def test_invalid_record_skipped_with_warning(tmp_path):
    """An invalid record is skipped with a warning naming it; the others still make the table."""
    a, b = fixed_records()
    add_record(tmp_path, a)
    add_record(tmp_path, b)
    bad = record_path(tmp_path, a).with_name("broken.json")
    bad.write_text("{not json")
    misplaced = tmp_path / "records" / "other_task" / f"{a['run_id']}.json"
    write_record(misplaced, a)
    with pytest.warns(LeaderboardWarning) as caught:
        generate_tables(tmp_path)
    messages = [str(w.message) for w in caught]
    assert any("broken.json" in m and "not valid JSON" in m for m in messages)
    assert any("other_task" in m and "belongs at" in m for m in messages)
    assert len(rows(tmp_path / f"{TABLE}.details.csv")) == 2
    assert "2 invalid record file(s) skipped" in (tmp_path / "README.md").read_text()


def test_add_record_replaces_a_rerun(tmp_path):
    """A record with the same run id replaces the old one, unless overwrite=False says not to."""
    a, _ = fixed_records()
    path = add_record(tmp_path, a)
    assert add_record(tmp_path, copy.deepcopy(a), overwrite=False) == path  # identical: fine
    with pytest.raises(FileExistsError, match="different record"):
        add_record(tmp_path, variant(a, a["run_id"], seed=7), overwrite=False)
    assert load_record(path)["seed"] == 0
    assert add_record(tmp_path, variant(a, a["run_id"], seed=7)) == path
    assert load_record(path)["seed"] == 7
    with pytest.raises(RecordError, match="budget: missing"):
        add_record(tmp_path, {k: v for k, v in a.items() if k != "budget"})


def test_check_detects_stale_tables(tmp_path):
    """`leaderboard --check` passes on fresh tables and fails when a record or table changed."""
    runner = CliRunner()
    a, b = fixed_records()
    src = tmp_path / "a.json"
    write_record(src, a)
    lb = tmp_path / "lb"
    lb.mkdir()
    result = runner.invoke(main, ["leaderboard", "--dir", str(lb), "--add", str(src)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["leaderboard", "--dir", str(lb), "--check"]).exit_code == 0

    add_record(lb, b)  # a new record: the table on disk is now stale
    result = runner.invoke(main, ["leaderboard", "--dir", str(lb), "--check"])
    assert result.exit_code == 1 and f"out of date: {TABLE}.md" in result.output
    assert check_tables(lb)  # --check wrote nothing

    runner.invoke(main, ["leaderboard", "--dir", str(lb)])
    (lb / "gone__3.md").write_text("old table")
    result = runner.invoke(main, ["leaderboard", "--dir", str(lb), "--check"])
    assert result.exit_code == 1 and "stale: gone__3.md" in result.output
    runner.invoke(main, ["leaderboard", "--dir", str(lb)])
    assert not (lb / "gone__3.md").exists() and check_tables(lb) == []


def test_missing_directory_is_a_clear_error(tmp_path):
    """A leaderboard directory that does not exist is reported, not created."""
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "no leaderboard directory" in result.output
    assert not (tmp_path / "nope").exists()


def test_empty_leaderboard(tmp_path):
    """With no records, only an index saying so is generated."""
    assert [p.name for p in generate_tables(tmp_path)] == ["README.md", "index.html"]
    assert "No result records yet." in (tmp_path / "README.md").read_text()


def test_eval_protocols_never_share_a_table():
    """A record of a later evaluation protocol gets its own table; legacy tables keep their name."""
    from jepa_bench.leaderboard.tables import render_tables, table_version

    a, b = fixed_records()
    newer = variant(b, "run-newer", eval_protocol="eval-v2")
    version = a["task"]["version"]
    assert table_version(a) == version and table_version(newer) == f"{version}+eval-v2"
    files = render_tables([a, b, newer])
    old, new = f"wall_door__{version}__default.csv", f"wall_door__{version}+eval-v2__default.csv"
    assert a["run_id"] in files[old] and b["run_id"] in files[old]
    assert "run-newer" not in files[old] and a["run_id"] not in files[new]
    assert "run-newer" in files[new]
    assert f"| wall_door | {version}+eval-v2 | default | 1 | 1 |" in files["README.md"]
