"""``jepa-bench migrate``: records made before one-step resolution are re-keyed, not changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from jepa_bench.config import ConfigError, RunConfig
from jepa_bench.record import build_record, load_record, write_record
from jepa_bench.record.schema import hash_config
from jepa_bench.runner import resolve, run_id_for
from jepa_bench.submit.migrate import migrate_leaderboard, migrate_record, migrate_run_dir


def old_style_config() -> dict:
    """A config as runs wrote it before: budget defaults left unset, no model_sha256."""
    cfg = resolve({"model": "convnext_mlp_smoke", "budget": "smoke"}).to_dict()
    cfg.pop("model_sha256")
    cfg["eval"].update(probe_epochs=None, planning=None)
    cfg["reg"] = "vicreg"
    cfg["out"], cfg["data_dir"] = "/somewhere/runs", "/somewhere/cache"
    return cfg


def old_record(old_id: str = "wall_door__convnext_mlp_smoke__default__s0__smoke__0123456789ab"):
    config = old_style_config()
    record = build_record(
        run_id=old_id,
        task={"name": "wall_door", "version": "wall_door-v1", "details": {}},
        model={"name": config["model"], "params": {"total": 10}},
        regularizer={"spec": config["reg"], "resolved": {}},
        seed=0,
        budget="smoke",
        config=config,
        metrics={"probe/normal": 12.5},
        higher_is_better={"probe/normal": False},
        times={"train_s": 1.0, "eval_s": 1.0, "total_s": 2.0, "data_s": 0.0},
        checkpoint={"path": "model.safetensors", "sha256": "0" * 64},
    )
    return {**record, "verified": True, "verification": {"verified": True}}


def test_old_record_is_rekeyed_with_one_hash():
    """The migrated record's run id and config_hash carry the same hash; nothing that was set
    changed; the old names are kept in details.migration; it is no longer verified."""
    old = old_record()
    new = migrate_record(old)
    cfg = RunConfig.from_dict(new["config"])
    assert new["config_hash"] == cfg.hash() and new["run_id"] == run_id_for(cfg)
    assert new["run_id"].endswith("__" + new["config_hash"])
    assert new["details"]["migration"]["from_run_id"] == old["run_id"]
    assert new["details"]["migration"]["from_config_hash"] == old["config_hash"]
    assert new["verified"] is False and "verification" not in new
    assert cfg.eval.probe_epochs == 2 and cfg.eval.planning is False  # the smoke budget's
    assert new["config"]["train"] == old["config"]["train"]  # every set value kept
    assert new["config"]["out"] == "/somewhere/runs"  # output settings are kept
    assert migrate_record(new) is new  # idempotent


def test_leaderboard_files_are_renamed_and_tables_regenerated(tmp_path: Path):
    """Record and checkpoint files move to the new run id; a second migration changes nothing."""
    board = tmp_path / "board"
    old = old_record()
    write_record(board / "records" / "wall_door" / f"{old['run_id']}.json", old)
    ckpt = board / "checkpoints" / "wall_door" / f"{old['run_id']}.safetensors"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")
    (done,) = migrate_leaderboard(board)
    assert done.changed and done.old_run_id == old["run_id"]
    assert not ckpt.exists()
    moved = board / "checkpoints" / "wall_door" / f"{done.new_run_id}.safetensors"
    assert moved.read_bytes() == b"weights"
    new = load_record(board / "records" / "wall_door" / f"{done.new_run_id}.json")
    assert new["config_hash"] == hash_config(new["config"])
    assert (board / f"wall_door__wall_door-v1__{new['budget']}.md").is_file()
    (again,) = migrate_leaderboard(board)
    assert not again.changed and again.new_run_id == done.new_run_id


def test_a_bad_record_stops_the_migration_before_anything_is_written(tmp_path: Path):
    """A record whose config no longer resolves is named and every file stays as it was."""
    board = tmp_path / "board"
    good, bad = old_record(), old_record("wall_door__x__default__s0__smoke__ffffffffffff")
    bad["config"]["eval"]["probe_lr"] = "fast"
    for rec in (good, bad):
        write_record(board / "records" / "wall_door" / f"{rec['run_id']}.json", rec)
    before = sorted(p.name for p in (board / "records" / "wall_door").iterdir())
    with pytest.raises(ConfigError, match="probe_lr"):
        migrate_leaderboard(board)
    assert sorted(p.name for p in (board / "records" / "wall_door").iterdir()) == before


def test_run_directory_is_rewritten_and_renamed(tmp_path: Path):
    """`jepa-bench migrate RUN_DIR`: new config.yaml and result.json, directory renamed."""
    old = old_record()
    run_dir = tmp_path / old["run_id"]
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(json.dumps(old["config"]))
    write_record(run_dir / "result.json", old)
    res = CliRunner().invoke(main, ["migrate", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert not run_dir.exists()
    (moved,) = tmp_path.iterdir()
    record = load_record(moved / "result.json")
    assert moved.name == record["run_id"]
    with pytest.raises(ValueError, match="not a run directory"):
        migrate_run_dir(tmp_path / "nothing")
