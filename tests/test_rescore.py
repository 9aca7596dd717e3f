"""`jepa-bench rescore`: a recorded checkpoint evaluated again under today's protocol."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from jepa_bench.config import RunConfig
from jepa_bench.evaluate import EVAL_PROTOCOL
from jepa_bench.record.io import load_record
from jepa_bench.submit import verify_record
from jepa_bench.submit.rescore import RescoreError, rescore


def legacy_copy(run_dir: Path, dest: Path) -> Path:
    """The run as an older protocol recorded it: no eval_protocol, probe batches of 256."""
    old = Path(shutil.copytree(run_dir, dest / run_dir.name))
    data = json.loads((old / "result.json").read_text())
    data.pop("eval_protocol")
    data["config"]["eval"]["probe_batch_size"] = 256
    data["config_hash"] = RunConfig.from_dict(data["config"]).hash()
    (old / "result.json").write_text(json.dumps(data))
    return old


def test_a_legacy_record_becomes_a_verifiable_run(run_dir: Path, tmp_path: Path) -> None:
    """A record of an older protocol is re-scored into a new run that verifies; what it trained
    and its weights are kept, the evaluation settings are today's, the origin is named."""
    old = legacy_copy(run_dir, tmp_path / "old")
    assert verify_record(old).status == "error"  # another protocol: nothing to compare
    new = rescore(old, tmp_path / "new")
    record, before = load_record(new / "result.json"), load_record(old / "result.json")
    assert record["eval_protocol"] == EVAL_PROTOCOL
    assert record["config"]["eval"]["probe_batch_size"] != 256
    assert record["config"]["train"] == before["config"]["train"]
    assert record["checkpoint"]["sha256"] == before["checkpoint"]["sha256"]
    assert record["config_hash"] != before["config_hash"] and new.name.endswith(
        record["config_hash"]
    )
    assert record["details"]["rescore"]["from_run_id"] == before["run_id"]
    assert record["details"]["train"] == before["details"]["train"]
    assert verify_record(new).passed


def test_a_current_record_rescores_to_its_own_numbers(run_dir: Path, tmp_path: Path) -> None:
    """Re-scoring a record of today's protocol reproduces its config hash and its metrics."""
    new = rescore(run_dir, tmp_path / "again")
    record, before = load_record(new / "result.json"), load_record(run_dir / "result.json")
    assert new.name == run_dir.name
    assert record["metrics"] == before["metrics"]


def test_other_weights_or_an_existing_target_are_refused(run_dir: Path, tmp_path: Path) -> None:
    """Weights that are not the recorded ones, or a target that exists, stop before writing."""
    bad = Path(shutil.copytree(run_dir, tmp_path / "bad" / run_dir.name))
    with open(bad / "model.safetensors", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(RescoreError, match="sha256"):
        rescore(bad, tmp_path / "out1")
    assert not (tmp_path / "out1").exists()
    rescore(run_dir, tmp_path / "out2")
    with pytest.raises(RescoreError, match="exists"):
        rescore(run_dir, tmp_path / "out2")


def test_cli_rescore_names_the_new_run(run_dir: Path, tmp_path: Path) -> None:
    """The command prints OLD -> NEW per record; a tampered record is one error line."""
    old = legacy_copy(run_dir, tmp_path / "old")
    res = CliRunner().invoke(main, ["rescore", str(old), "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 0, res.output
    assert f"{old} -> {tmp_path / 'o'}" in res.output
    data = json.loads((old / "result.json").read_text())
    data["config"]["seed"] = 5  # no longer hashes to its config_hash
    (old / "result.json").write_text(json.dumps(data))
    res = CliRunner().invoke(main, ["rescore", str(old), "--out", str(tmp_path / "p"), "-q"])
    assert res.exit_code == 1 and "Error:" in res.output and "config" in res.output


def test_a_record_made_before_a_setting_existed_is_consistent(run_dir: Path) -> None:
    """A stored config without a setting added later (a default that keeps behaviour) still
    matches its hash; a changed value does not."""
    from jepa_bench.record.schema import hash_config
    from jepa_bench.submit.submit import consistency_problems

    record = load_record(run_dir / "result.json")
    del record["config"]["eval"]["probe_seeds"]
    record["config_hash"] = hash_config(record["config"])
    assert consistency_problems(record) == []
    record["config"]["eval"]["probe_epochs"] += 1
    assert any("config_hash" in p for p in consistency_problems(record))
