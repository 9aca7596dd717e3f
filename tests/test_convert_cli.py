"""The ``jepa-bench convert`` command: options, exit codes, and the optional Hub source."""

from __future__ import annotations

import sys
import types

import click
import pytest
from click.testing import CliRunner
from lerobot_fixtures import assert_frames_match_sources, build_dataset, edit_json

from jepa_bench.cli import main
from jepa_bench.commands.convert import parse_episodes, parse_size
from jepa_bench.convert import open_lewm_h5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_dataset(tmp_path_factory.mktemp("cli") / "ds", "v3.0", "libsvtav1", (7, 9, 8))


def invoke(*args):
    return CliRunner().invoke(main, ["convert", *map(str, args), "--no-progress"])


def test_convert_then_inspect(dataset, tmp_path):
    """The command converts, prints the plan with estimates, and inspect accepts the file."""
    out = tmp_path / "o.h5"
    result = invoke(dataset, out, "--size", "16x24", "--micro-batch", "4", "--episodes", "0,2")
    assert result.exit_code == 0, result.output
    assert "plan: 2 episodes, 15 frames" in result.output
    assert "estimated peak memory" in result.output and "wrote" in result.output
    with open_lewm_h5(out) as h5:
        assert h5.pixels.shape == (15, 16, 24, 3) and h5.pixels.chunks[0] == 4
        assert_frames_match_sources(h5)
    inspected = CliRunner().invoke(main, ["inspect", str(out)])
    assert inspected.exit_code == 0 and "check: OK" in inspected.output


def test_dirty_input_exit_code_and_message(dataset, tmp_path):
    """A dirty source exits non-zero naming the issue and the report; nothing is written."""
    import shutil

    root = shutil.copytree(dataset, tmp_path / "ds")
    edit_json(root / "meta" / "info.json", lambda d: d.update(total_episodes=4))
    out = tmp_path / "o.h5"
    result = invoke(root, out)
    assert result.exit_code == 1
    assert "count_mismatch" in result.output and "o.report.json" in result.output
    assert not out.exists()
    ok = invoke(root, out, "--dirty-episode-policy", "warn")
    assert ok.exit_code == 0 and "kept: [count_mismatch]" in ok.output


def test_hub_source_needs_the_extra(tmp_path, monkeypatch):
    """A repo id without huggingface_hub installed says which extra to install."""
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes the import fail
    result = invoke("someone/koch_pick_place", tmp_path / "o.h5")
    assert result.exit_code == 1 and "jepa-bench[hub]" in result.output
    result = invoke(tmp_path / "no-such-folder", tmp_path / "o.h5")
    assert result.exit_code == 1 and "no such folder" in result.output


def test_hub_source_downloads_then_converts(dataset, tmp_path, monkeypatch):
    """With the extra present, the snapshot is fetched (only the chosen camera) and converted."""
    calls = []

    def snapshot_download(repo_id, repo_type, revision, allow_patterns):
        calls.append((repo_id, repo_type, revision, allow_patterns))
        return str(dataset)

    fake = types.SimpleNamespace(snapshot_download=snapshot_download)
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    out = tmp_path / "o.h5"
    cam = "observation.images.laptop"
    result = invoke("someone/koch", out, "--revision", "v1", "--camera", cam, "--size", "16")
    assert result.exit_code == 0, result.output
    assert calls == [("someone/koch", "dataset", "v1", ["meta/*", "data/*", f"videos/*{cam}/*"])]
    with open_lewm_h5(out) as h5:
        assert h5.attrs["source"] == "hf://datasets/someone/koch@v1"
        assert h5.attrs["source_repo_id"] == "someone/koch"


def test_option_parsers():
    """Sizes and episode lists parse as documented; nonsense is a usage error."""
    assert parse_size("224") == (224, 224) and parse_size("96x128") == (96, 128)
    assert parse_size("0") is None and parse_size("native") is None
    assert parse_episodes("0:3,7") == [0, 1, 2, 7] and parse_episodes(None) is None
    for bad in ("x", "0x5", "-3"):
        with pytest.raises(click.BadParameter):
            parse_size(bad)
    with pytest.raises(click.BadParameter):
        parse_episodes("1:a")
