"""Plugging models in: by file path, by module, by entry point; plus the example model's tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from jepa_bench.cli import main
from jepa_bench.models.check import check_model
from jepa_bench.models.plugins import PluginError, import_file, model_slug, resolve_model
from jepa_bench.registry import MODELS, UnknownNameError
from tests.helpers import WALL_DOOR_LIKE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tiny_conv_gru.py"

# The example's own tests, collected here so that the main suite runs them.
_example_tests = import_file(ROOT / "examples" / "test_example_model.py")
test_example_passes_the_model_check = _example_tests.test_example_passes_the_model_check
test_example_rollout_is_the_recurrence_of_predict = (
    _example_tests.test_rollout_is_the_recurrence_of_predict
)
test_example_trains_and_is_recorded = _example_tests.test_example_trains_and_is_recorded

MODEL_SRC = '''
import sys
sys.path.insert(0, {folder!r})
from tiny_conv_gru import TinyConvGRU

def make(spec, **kw):
    """A plug-in factory."""
    return TinyConvGRU(spec, **kw)

NOT_CALLABLE = 3
'''


@pytest.fixture
def clean_models():
    """Restore the model registry and the entry point memo after the test."""
    entries, helps = dict(MODELS._entries), dict(MODELS._help)
    memo = dict(MODELS._seen_entry_points)
    yield
    MODELS._entries.clear()
    MODELS._entries.update(entries)
    MODELS._help.clear()
    MODELS._help.update(helps)
    MODELS._seen_entry_points.clear()
    MODELS._seen_entry_points.update(memo)


def write_module(folder: Path, name: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(MODEL_SRC.format(folder=str(EXAMPLE.parent)))
    return path


def test_registered_name_resolves_to_registry_entry():
    """A registered name gives the registry's factory."""
    assert resolve_model("convnext_mlp_smoke") is MODELS.get("convnext_mlp_smoke")


def test_file_reference_absolute_and_relative(tmp_path, monkeypatch):
    """file.py:factory works with absolute and cwd-relative paths and imports the file once."""
    path = write_module(tmp_path, "my_model")
    factory = resolve_model(f"{path}:make")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("my_model.py:make") is factory
    assert resolve_model("./my_model.py:make") is factory
    check_model(factory(WALL_DOOR_LIKE), WALL_DOOR_LIKE)


def test_module_reference(tmp_path, monkeypatch):
    """module:factory imports an importable module."""
    write_module(tmp_path, "my_pkg_mod")
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = resolve_model("my_pkg_mod:make")
    assert factory.__doc__ == "A plug-in factory."


def test_bad_references_give_clear_errors(tmp_path):
    """Missing files, attributes, modules and non-callables are named in the error."""
    path = write_module(tmp_path, "m")
    with pytest.raises(PluginError, match=r"model file .*nope\.py' not found"):
        resolve_model(f"{tmp_path / 'nope.py'}:make")
    with pytest.raises(PluginError, match=r"no attribute 'mak'; it defines: .*make"):
        resolve_model(f"{path}:mak")
    with pytest.raises(PluginError, match="int, not a callable factory"):
        resolve_model(f"{path}:NOT_CALLABLE")
    with pytest.raises(PluginError, match="module 'no_such_mod_xyz' not found"):
        resolve_model("no_such_mod_xyz:make")
    with pytest.raises(UnknownNameError, match="Did you mean 'convnext_mlp'.*file.py:factory"):
        resolve_model("convnext_mlpp")
    with pytest.raises(PluginError, match="non-empty"):
        resolve_model("  ")
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('needs a GPU library')\n")
    with pytest.raises(PluginError, match="importing model file .*needs a GPU library"):
        resolve_model(f"{broken}:make")


def fake_distribution(folder: Path, entry_points: str) -> None:
    """An installed-looking distribution with the given entry_points.txt, found via sys.path."""
    info = folder / "my_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_entry_point_models_are_registered(tmp_path, monkeypatch, clean_models):
    """An installed package's jepa_bench.models entry point becomes a registered model."""
    write_module(tmp_path, "my_models_ep")
    fake_distribution(
        tmp_path,
        "[jepa_bench.models]\nmy_gru = my_models_ep:make\nconvnext_mlp = my_models_ep:make\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="'convnext_mlp'.*already registered"):
        added = MODELS.load_entry_points()
    assert added == ["my_gru"]
    assert "my_gru" in MODELS and "entry point" in MODELS.help("my_gru")
    assert MODELS.load_entry_points() == []  # idempotent
    model = resolve_model("my_gru")(WALL_DOOR_LIKE)
    check_model(model, WALL_DOOR_LIKE, name="my_gru")
    res = CliRunner().invoke(main, ["list", "models"])
    assert res.exit_code == 0 and "my_gru" in res.output


@given(st.text(min_size=1, max_size=40))
def test_model_slug_is_file_safe(name):
    """Any model name maps to a non-empty file-safe slug."""
    assert re.fullmatch(r"[A-Za-z0-9_.+-]+", model_slug(name))


def test_model_slug_keeps_registered_names_and_shortens_paths():
    """Registered names are unchanged; a file reference becomes <stem>.<factory>."""
    for name in MODELS.names():
        assert model_slug(name) == name
    assert model_slug("some/dir/tiny_conv_gru.py:tiny_conv_gru") == "tiny_conv_gru.tiny_conv_gru"
    assert model_slug("pkg.models:make") == "pkg.models.make"


# ---- records of plug-in models: the file they were made with, and no other --------------

TINY_PLUGIN = (
    "from jepa_bench.models.convnext_mlp import ConvNeXtMLP\n"
    "def make(spec, **kw):\n    return ConvNeXtMLP(spec, dim=8, width=2, depth=1, **kw)\n"
)
EDITED = "\nraise RuntimeError('the edited file was imported')\n"


@pytest.fixture
def fake_evaluation(monkeypatch):
    """A constant evaluation: these tests are about which model file is used, not its scores."""
    from jepa_bench.runner import execute
    from jepa_bench.submit import verify

    def evaluate(model, task, cfg, **kw):
        return execute.EvalResult({"probe/normal": 1.0}, {"probe/normal": False})

    monkeypatch.setattr(execute, "evaluate", evaluate)
    monkeypatch.setattr(verify, "evaluate", evaluate)


@pytest.fixture
def plugin_run(tmp_path, monkeypatch, fake_evaluation) -> Path:
    """A finished smoke run of the relative plug-in model ``mine.py:make``; cwd is its folder."""
    from jepa_bench.runner import execute_run, resolve

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "mine.py").write_text(TINY_PLUGIN)
    cfg = resolve(
        {"model": "mine.py:make", "budget": "smoke", "out": "runs",
         "data_dir": str(tmp_path / "cache"), "train": {"steps": 1},
         "eval": {"eval_untrained": False}, "task_kwargs": {"train": 16, "probe_normal_train": 16}}
    )  # fmt: skip
    return work / "runs" / execute_run(cfg, progress=False)["run_id"]


def test_records_refuse_to_import_an_edited_plugin_file(plugin_run):
    """verify, report and plan exit 2 without importing a model file edited since the run."""
    (Path.cwd() / "mine.py").write_text(TINY_PLUGIN + EDITED)
    for args in (["verify", str(plugin_run)], ["report", str(plugin_run)],
                 ["plan", "--run", str(plugin_run), "-q"]):  # fmt: skip
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, (args, res.output)
        assert "refusing to import it" in res.output and "was imported" not in res.output, args


def test_a_matching_copy_beside_the_record_is_preferred(plugin_run):
    """With the original file copied into the run directory, the edited one in the current
    directory is ignored: verify passes and the run loads from the copy."""
    from jepa_bench.models.plugins import source_file
    from jepa_bench.runner import RunDir

    (Path.cwd() / "mine.py").write_text(TINY_PLUGIN + EDITED)
    (plugin_run / "mine.py").write_text(TINY_PLUGIN)
    res = CliRunner().invoke(main, ["verify", str(plugin_run), "--skip-untrained", "-q"])
    assert res.exit_code == 0 and "verification PASSED" in res.output, res.output
    assert source_file("mine.py:make", plugin_run) == (plugin_run / "mine.py").resolve()
    assert RunDir(plugin_run).load().step == 1


def test_ablate_reruns_a_plugin_model_after_its_file_changed(
    tmp_path, monkeypatch, fake_evaluation
):
    """A finished grid run is reused while the model file is unchanged and run again once it
    changed; the ablation folder for `path/to/mine.py:make` is a file-safe slug."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "path" / "to" / "mine.py"
    src.parent.mkdir(parents=True)
    src.write_text(TINY_PLUGIN)
    args = ["ablate", "-m", "path/to/mine.py:make", "-r", "none", "--seeds", "1", "-b", "smoke",
            "--steps", "1", "-q", "--out", "out", "--data-dir", str(tmp_path / "c")]  # fmt: skip
    outputs = []
    for edit in (None, None, "# edited\n"):
        if edit:
            src.write_text(TINY_PLUGIN + edit)
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        outputs.append(res.output)
    assert [o.count("[finished]") for o in outputs] == [1, 0, 1] and "[reused]" in outputs[1]
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names[0] == "ablation__wall_door__mine.make__smoke"
    assert len(names) == 3 and all(n.startswith("wall_door__mine.make__none__") for n in names[1:])
    assert not any(c in n for n in names for c in "/:")
