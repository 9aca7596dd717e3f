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
