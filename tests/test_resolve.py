"""Run-config resolution: one step from a request to a frozen, validated config and its hash."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.config import BUDGETS, GENERIC_TRAIN, ConfigError, RunConfig
from jepa_bench.models.convnext_mlp import CONVNEXT_MLP
from jepa_bench.runner import RunDir, read_preset, resolve, run_id_for


def test_layers_of_defaults_in_order():
    """Generic defaults < model preset < the preset's budget row < the request."""
    cfg = resolve({"model": "convnext_mlp", "budget": "default"})
    row = CONVNEXT_MLP.budgets["default"]
    assert cfg.train.steps == row["steps"] and cfg.train.lr == row["lr"]
    assert cfg.train.optimizer == CONVNEXT_MLP.train["optimizer"]
    assert cfg.train.warmup_frac == GENERIC_TRAIN["warmup_frac"]
    assert cfg.reg == CONVNEXT_MLP.reg
    assert cfg.eval.probe_epochs == BUDGETS["default"].eval["probe_epochs"]
    mine = resolve({"model": "convnext_mlp", "train": {"lr": 0.01}, "reg": "sigreg"})
    assert mine.train.lr == 0.01 and mine.train.steps == row["steps"] and mine.reg == "sigreg"


def test_smoke_budget_fills_the_evaluator_too():
    """A budget sets the evaluator's settings as well as the trainer's."""
    cfg = resolve({"model": "convnext_mlp_smoke", "budget": "smoke"})
    assert cfg.eval.planning is False and cfg.eval.probe_epochs == 2
    assert cfg.eval.max_eval_windows == 32 and cfg.train.steps == 3


def test_resolved_config_is_frozen_and_complete():
    """Nothing is left unset, and the config cannot be changed after resolution."""
    cfg = resolve({})
    flat = json.dumps(cfg.to_dict())
    assert cfg.reg and cfg.train.steps >= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.steps = 3  # type: ignore[misc]
    assert json.dumps(resolve({}).to_dict()) == flat  # resolving twice gives the same


def test_stored_config_resolves_to_itself():
    """A dumped config.yaml read back (or resolved again as a request) has the same hash."""
    cfg = resolve({"model": "lewm_smoke", "budget": "smoke", "train": {"window": 3}})
    back = RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert back == cfg and back.hash() == cfg.hash()
    assert resolve(cfg.to_dict()).hash() == cfg.hash()


def test_equal_requests_hash_equally():
    """Spelling variants of one composition and output-only settings do not change the hash."""
    base = resolve({"reg": "vicreg"}).hash()
    assert resolve({"reg": "vicreg:"}).hash() == base
    assert resolve({"reg": " vicreg "}).hash() == base
    assert resolve({"reg": "vicreg", "out": "elsewhere", "device": "cpu"}).hash() == base
    assert resolve({"reg": "vicreg", "train": {"log_every": 3}}).hash() == base
    assert resolve({"reg": "sigreg:weight=0.5"}).reg == "sigreg:0.5"
    assert resolve({"reg": "vicreg", "seed": 1}).hash() != base


@pytest.mark.parametrize(
    "request_, key",
    [
        ({"stepz": 3}, "stepz"),
        ({"train": {"stepz": 3}}, "train.stepz"),
        ({"eval": {"plan": {"horizn": 3}}}, "eval.plan.horizn"),
        ({"train": 3}, "train"),
        ({"train": {"steps": -5}}, "train.steps"),
        ({"train": {"steps": 0}}, "train.steps"),
        ({"train": {"batch_size": 0}}, "train.batch_size"),
        ({"train": {"lr": float("inf")}}, "train.lr"),
        ({"train": {"checkpoint_every": -1}}, "train.checkpoint_every"),
        ({"train": {"max_minutes": -1}}, "train.max_minutes"),
        ({"train": {"window": 1}}, "train.window"),
        ({"seed": -1}, "seed"),
        ({"budget": "huge"}, "budget"),
        ({"model": "convnext_mlpp"}, "model"),
        ({"reg": "vicreg:colour=3"}, "reg"),
        ({"reg": "nope"}, "reg"),
        ({"model_kwargs": {"widht": 4}}, "model_kwargs.widht"),
        ({"eval": {"plan": {"topk": 400}}}, "eval.plan.topk"),
    ],
)
def test_bad_requests_name_the_setting(request_, key):
    """Every bad setting is refused with an error whose key names it."""
    with pytest.raises(ConfigError) as err:
        resolve(request_)
    assert err.value.key == key


@settings(max_examples=25, deadline=None)
@given(
    steps=st.integers(1, 10_000),
    lr=st.floats(1e-6, 1.0),
    seed=st.integers(0, 2**31),
    reg=st.sampled_from(["vicreg", "sigreg:0.09", "none", "sigreg+bias_free"]),
)
def test_hash_names_the_run_directory_and_the_record(steps, lr, seed, reg):
    """The run directory's name ends with the config hash, which is the record's config_hash."""
    cfg = resolve({"seed": seed, "reg": reg, "train": {"steps": steps, "lr": lr}})
    run_id = run_id_for(cfg)
    assert run_id.endswith("__" + cfg.hash()) and f"__s{seed}__" in run_id
    assert RunConfig.from_dict(cfg.to_dict()).hash() == cfg.hash()


def test_run_directory_and_record_share_the_hash(tmp_path):
    """A real (smoke) run: the directory name and result.json carry one config hash."""
    from jepa_bench.runner import execute_run

    cfg = resolve(
        {"model": "convnext_mlp_smoke", "budget": "smoke", "out": str(tmp_path / "runs"),
         "data_dir": str(tmp_path / "cache"), "eval": {"eval_untrained": False},
         "task_kwargs": {"train": 16, "probe_normal_train": 16}}
    )  # fmt: skip
    record = execute_run(cfg, progress=False)
    rundir = RunDir(tmp_path / "runs" / record["run_id"])
    assert rundir.path.name.endswith("__" + record["config_hash"])
    assert rundir.config().hash() == record["config_hash"] == cfg.hash()


def test_plugin_model_file_is_part_of_the_config(tmp_path):
    """A plug-in model's source is hashed into the config: editing the file changes the hash."""
    src = tmp_path / "mine.py"
    src.write_text(
        "from jepa_bench.models.convnext_mlp import ConvNeXtMLP\n"
        "def make(spec, **kw):\n    return ConvNeXtMLP(spec, dim=8, width=2, depth=1, **kw)\n"
    )
    first = resolve({"model": f"{src}:make"})
    assert first.model_sha256 and resolve({"model": "convnext_mlp"}).model_sha256 is None
    src.write_text(src.read_text() + "# edited\n")
    assert resolve({"model": f"{src}:make"}).model_sha256 != first.model_sha256


def test_preset_files_give_named_errors(tmp_path):
    """A preset that is not YAML, or not a mapping, is refused with the file's name."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        read_preset(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_preset(listed)
