"""Result records: build, validate, write atomically, read back."""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jepa_bench.config import RunConfig
from jepa_bench.record import (
    LEGACY_EVAL_PROTOCOL,
    SCHEMA_VERSION,
    RecordError,
    build_record,
    eval_protocol_of,
    file_sha256,
    git_info,
    hardware_info,
    hardware_short,
    hash_config,
    load_record,
    record_warnings,
    validate_record,
    write_record,
)
from jepa_bench.record.schema import TOP

HW = {
    "cpu": "Test CPU",
    "cores": 2,
    "gpu": None,
    "torch": "2.13.0",
    "python": "3.11.7",
    "platform": "Linux",
    "threads": 2,
}


def make_record(**overrides) -> dict:
    kwargs = dict(
        task={"name": "dots", "version": "1", "details": {"windows": 96}},
        model={"name": "tiny", "params": {"encoder": 10, "predictor": 5, "total": 15}},
        regularizer={"spec": "vicreg", "resolved": {"std_coeff": 25.0}},
        seed=0,
        budget="smoke",
        config=RunConfig(model="tiny", task="dots").to_dict(),
        metrics={"probe/normal": 3.5, "latent_error/mean": 0.25},
        higher_is_better={"probe/normal": False, "latent_error/mean": False},
        untrained_metrics={"probe/normal": 40.0, "latent_error/mean": 0.01},
        times={"train_s": 10.0, "eval_s": 2.0, "total_s": 13.0, "data_s": 1.0},
        hardware=HW,
        git={"commit": "a" * 40, "dirty": False},
        checkpoint={"path": "checkpoint.safetensors", "sha256": "0" * 64},
        run_id="20260101T000000-dots-tiny-s0-abcd",
        created="2026-01-01T00:00:00+00:00",
    )
    kwargs.update(overrides)
    return build_record(**kwargs)


def test_round_trip(tmp_path):
    """A written record loads back equal, with every field of the schema."""
    rec = make_record(notes="first run")
    write_record(tmp_path / "r.json", rec)
    assert load_record(tmp_path / "r.json") == rec
    assert rec["schema_version"] == SCHEMA_VERSION and rec["verified"] is False
    assert set(TOP) <= set(rec)


def test_config_hash_matches_run_config():
    """The record's config hash is RunConfig.hash() of the same config."""
    cfg = RunConfig(model="tiny", seed=3)
    assert hash_config(cfg.to_dict()) == cfg.hash()
    assert make_record(config=cfg.to_dict())["config_hash"] == cfg.hash()


def test_nan_metric_allowed_stored_as_null_and_reported(tmp_path):
    """NaN metrics are valid, written as JSON null, read back as NaN and listed as warnings."""
    rec = make_record(metrics={"probe/normal": math.nan, "latent_error/mean": 0.2})
    assert validate_record(rec) == []
    write_record(tmp_path / "r.json", rec)
    raw = json.loads((tmp_path / "r.json").read_text())
    assert raw["metrics"]["probe/normal"]["value"] is None
    back = load_record(tmp_path / "r.json")
    assert math.isnan(back["metrics"]["probe/normal"]["value"])
    assert "probe/normal" in record_warnings(back)[0]


@pytest.mark.parametrize("field", sorted(TOP))
def test_missing_field_reported(field):
    """Removing any required field is reported by name."""
    rec = make_record()
    del rec[field]
    assert any(p.startswith(f"{field}: missing") for p in validate_record(rec))


@pytest.mark.parametrize(
    "path, value, expect",
    [
        (("seed",), "0", "seed: expected an integer"),
        (("verified",), "no", "verified: expected true or false"),
        (("created",), "yesterday", "created: expected an ISO 8601"),
        (("run_id",), "../escape", "run_id: expected a file-safe"),
        (("times", "train_s"), -1.0, "times.train_s: expected a finite number >= 0"),
        (("model", "params", "total"), 1.5, "model.params.total: expected an integer"),
        (("metrics", "probe/normal", "value"), "3.5", "metrics.probe/normal.value: expected"),
        (("metrics", "probe/normal", "value"), math.inf, "infinite"),
        (("metrics", "probe/normal", "higher_is_better"), 0, "higher_is_better: expected"),
        (("checkpoint", "path"), "/abs/ckpt.safetensors", "checkpoint.path: expected a path"),
        (("checkpoint", "sha256"), "xyz", "checkpoint.sha256"),
        (("hardware", "threads"), "2", "hardware.threads"),
        (("task",), "dots", "task: expected an object"),
    ],
)
def test_bad_types_reported(path, value, expect):
    """Each kind of wrong value is reported with the field's dotted name."""
    rec = make_record()
    target = rec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert any(expect in p for p in validate_record(rec)), validate_record(rec)


def test_unknown_schema_version_and_non_object():
    """An unknown schema version, or something that is not an object, is rejected outright."""
    rec = make_record()
    rec["schema_version"] = "9.9"
    assert validate_record(rec) == ["schema_version: unknown version '9.9' (known: ('1.0',))"]
    assert "JSON object" in validate_record([1, 2])[0]


def test_build_record_rejects_problems():
    """build_record raises listing problems, e.g. a metric without a direction."""
    with pytest.raises(ValueError, match="latent_error/mean: no higher_is_better"):
        make_record(higher_is_better={"probe/normal": False})
    with pytest.raises(ValueError, match="needs 'value' and 'higher_is_better'"):
        make_record(metrics={"probe/normal": {"value": 1.0}})
    with pytest.raises(ValueError, match="times.eval_s: missing"):
        make_record(times={"train_s": 1.0, "total_s": 1.0, "data_s": 0.0})


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    """When serialisation fails, neither the target nor a temporary file is left behind."""
    good = make_record()
    write_record(tmp_path / "r.json", good)
    before = (tmp_path / "r.json").read_bytes()
    bad = make_record(task={"name": "dots", "version": "1", "details": {"x": object()}})
    with pytest.raises(TypeError, match=r"\$\.task\.details\.x"):
        write_record(tmp_path / "r.json", bad)
    with pytest.raises(TypeError):
        write_record(tmp_path / "new.json", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    assert (tmp_path / "r.json").read_bytes() == before


def test_write_refuses_invalid_record(tmp_path):
    """write_record validates first and writes nothing for an invalid record."""
    rec = make_record()
    rec["seed"] = None
    with pytest.raises(RecordError, match="seed"):
        write_record(tmp_path / "r.json", rec)
    assert not (tmp_path / "r.json").exists()


def test_load_errors_name_the_file(tmp_path):
    """Corrupt JSON and invalid records raise RecordError naming the file and the problems."""
    (tmp_path / "corrupt.json").write_text('{"schema_version": "1.0", ')
    with pytest.raises(RecordError, match="corrupt.json: not valid JSON"):
        load_record(tmp_path / "corrupt.json")
    rec = make_record()
    write_record(tmp_path / "old.json", rec)
    data = json.loads((tmp_path / "old.json").read_text())
    del data["budget"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"old.json: invalid result record:\n  - budget: missing"):
        load_record(tmp_path / "old.json")


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(names, st.tuples(st.floats(allow_infinity=False), st.booleans()), max_size=6)
)
def test_metrics_round_trip(tmp_path, metrics):
    """Any finite-or-NaN metrics with directions survive a write and a read."""
    rec = make_record(
        metrics={k: v for k, (v, _) in metrics.items()},
        higher_is_better={k: h for k, (_, h) in metrics.items()},
        untrained_metrics=None,
    )
    write_record(tmp_path / "r.json", rec)
    back = load_record(tmp_path / "r.json")
    assert list(back["metrics"]) == list(metrics)
    for key, (value, hib) in metrics.items():
        got = back["metrics"][key]
        assert got["higher_is_better"] is hib
        assert got["value"] == value or (math.isnan(value) and math.isnan(got["value"]))


def test_hardware_info_fits_the_schema():
    """This machine's hardware description passes validation and has a short form."""
    hw = hardware_info("cpu")
    assert hw["gpu"] is None and hw["threads"] >= 1
    assert validate_record(make_record(hardware=hw)) == []
    assert hardware_short(hw)
    assert hardware_short({**HW, "gpu": "NVIDIA H100 80GB HBM3"}) == "H100 80GB HBM3"


def test_file_sha256(tmp_path):
    """file_sha256 is the SHA-256 of the bytes (empty-file digest known by definition)."""
    (tmp_path / "empty").write_bytes(b"")
    import hashlib

    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_info(tmp_path):
    """None outside a checkout; the commit and the dirty flag inside one."""
    assert git_info(tmp_path) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    assert git_info(tmp_path) == {"commit": None, "dirty": False}
    (tmp_path / "f.txt").write_text("a")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    info = git_info(tmp_path)
    assert len(info["commit"]) == 40 and info["dirty"] is False
    (tmp_path / "f.txt").write_text("b")
    assert git_info(tmp_path)["dirty"] is True


def test_build_does_not_alias_inputs():
    """The record holds copies: changing the caller's dicts later does not change it."""
    task = {"name": "dots", "version": "1", "details": {}}
    rec = make_record(task=task)
    snapshot = copy.deepcopy(rec)
    task["name"] = "other"
    task["details"]["added"] = 1
    assert rec == snapshot


def test_entry_metrics_and_details(tmp_path):
    """Metrics given as ready entries are kept; optional details round-trip with NaN as null."""
    entries = {"probe/normal": {"value": 2.0, "higher_is_better": False}}
    rec = make_record(
        metrics=entries,
        higher_is_better=None,
        untrained_metrics={},
        details={"per_step": [0.1, math.nan]},
    )
    assert rec["metrics"] == entries and rec["untrained_metrics"] == {}
    write_record(tmp_path / "r.json", rec)
    assert load_record(tmp_path / "r.json")["details"] == {"per_step": [0.1, None]}


def test_eval_protocol_field():
    """A record names its evaluation protocol; one without the field reads as the legacy one."""
    assert "eval_protocol" not in make_record()
    assert eval_protocol_of(make_record()) == LEGACY_EVAL_PROTOCOL
    rec = make_record(eval_protocol="eval-v2")
    assert eval_protocol_of(rec) == "eval-v2" and not validate_record(rec)
    bad = dict(rec, eval_protocol="eval v2/x")
    assert any(
        p.startswith("eval_protocol: expected a file-safe string") for p in validate_record(bad)
    )
