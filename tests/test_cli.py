"""The command line end to end at the smoke budget: run, list, ablate (with resume)."""

import json

import pytest
from click.testing import CliRunner

from jepa_bench.cli import main
from jepa_bench.record.io import load_record


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache")
    res = CliRunner().invoke(
        main,
        [
            "run",
            "-m",
            "convnext_mlp_smoke",
            "-t",
            "wall_door",
            "-b",
            "smoke",
            "-q",
            "--out",
            str(out),
            "--data-dir",
            str(cache),
            "--seed",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    (run_dir,) = out.iterdir()
    return run_dir, res.output, cache


def test_run_writes_the_run_directory(smoke_run):
    """A run writes its resolved config, log, checkpoint and a valid record."""
    run_dir, _, _ = smoke_run
    for name in ("config.yaml", "train_log.jsonl", "model.safetensors", "result.json"):
        assert (run_dir / name).is_file(), name
    rec = load_record(run_dir / "result.json")
    assert rec["seed"] == 3 and rec["task"]["name"] == "wall_door"
    assert rec["config"]["train"]["steps"] is not None  # resolved, not left to defaults
    assert set(rec["metrics"]) == set(rec["untrained_metrics"])
    assert {"probe/normal", "probe/wall", "probe/wall_other", "probe/expert"} <= set(rec["metrics"])


def test_summary_table_shows_trained_beside_untrained(smoke_run):
    """The printed summary lists each probe metric with trained and untrained values."""
    _, output, _ = smoke_run
    assert "trained" in output and "untrained" in output
    line = next(x for x in output.splitlines() if x.startswith("probe/normal"))
    assert len(line.split()) >= 4


def test_list_shows_registered_names():
    """`list models` prints the built-in model names."""
    res = CliRunner().invoke(main, ["list", "models"])
    assert res.exit_code == 0
    assert "convnext_mlp" in res.output and "lewm" in res.output


def test_unknown_model_fails_with_names_and_nearest_match(tmp_path):
    """A misspelt model name fails fast, listing names and suggesting the closest."""
    res = CliRunner().invoke(
        main, ["run", "-m", "convnext_mpl", "-b", "smoke", "--out", str(tmp_path)]
    )
    assert res.exit_code != 0
    assert "convnext_mlp" in res.output and "Did you mean" in res.output


def test_unknown_regularizer_fails(tmp_path):
    """A misspelt regulariser is rejected before training."""
    res = CliRunner().invoke(
        main,
        [
            "run",
            "-m",
            "convnext_mlp_smoke",
            "-b",
            "smoke",
            "--reg",
            "vicrg",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code != 0 and "vicreg" in res.output
    assert not any(tmp_path.iterdir())  # nothing half-written


def _ablate_args(out, cache, regs: str, seeds: int, *extra: str) -> list[str]:
    """Command line of a one-step smoke ablation of convnext_mlp_smoke on wall_door."""
    return [
        "ablate",
        "-m",
        "convnext_mlp_smoke",
        "-t",
        "wall_door",
        "-b",
        "smoke",
        "-q",
        "--reg",
        regs,
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--data-dir",
        str(cache),
        "--steps",
        "1",
        *extra,
    ]


@pytest.mark.slow
def test_ablate_runs_grid_then_resumes(tmp_path, smoke_run):
    """ablate writes every run and a summary; a second call reuses the finished runs."""
    _, _, cache = smoke_run
    args = _ablate_args(tmp_path, cache, "none,vicreg", 2)
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output.count("[finished]") == 4
    summary = tmp_path / "ablation__wall_door__convnext_mlp_smoke__smoke"
    md = (summary / "summary.md").read_text()
    assert "| none | 2 |" in md and "| vicreg | 2 |" in md
    assert (summary / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0 and second.output.count("[reused]") == 4
    runs = [p for p in tmp_path.iterdir() if p.name.startswith("wall_door__")]
    assert len(runs) == 4
    rec = json.loads((runs[0] / "result.json").read_text())
    assert rec["budget"] == "smoke"


@pytest.mark.slow
def test_ablate_through_submitit_debug_executor(tmp_path, smoke_run):
    """The submitit launcher runs each grid cell as a job and the grid resumes afterwards."""
    pytest.importorskip("submitit")
    _, _, cache = smoke_run
    args = _ablate_args(
        tmp_path, cache, "none", 1, "--launcher", "submitit", "--launcher-arg", "cluster=debug"
    )
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output.count("[finished]") == 1
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0 and second.output.count("[reused]") == 1


def test_ablation_grid_is_seed_major_and_complete():
    """Every (regulariser, seed) once, all regularisers of a seed before the next seed."""
    from jepa_bench.ablation.grid import grid_configs

    cfgs = grid_configs({"model": "convnext_mlp", "task": "wall_door"}, ["none", "sigreg"], [0, 1])
    assert [(c.seed, c.reg) for c in cfgs] == [
        (0, "none"),
        (0, "sigreg"),
        (1, "none"),
        (1, "sigreg"),
    ]
    assert len({c.hash() for c in cfgs}) == 4


def test_ablation_table_shows_spread_only_with_several_seeds():
    from jepa_bench.ablation.summary import summarise, to_markdown

    def rec(reg, seed, value):
        metric = {"value": value, "higher_is_better": False}
        return {"regularizer": {"spec": reg}, "seed": seed, "metrics": {"probe/normal": metric}}

    md = to_markdown(
        summarise([rec("none", 0, 180.0), rec("vicreg", 0, 9.0), rec("vicreg", 1, 11.0)])
    )
    assert "| none | 1 | 180 |" in md
    assert "| vicreg | 2 | 10 +- 1.4 |" in md


@pytest.mark.slow
def test_ablate_finished_only_summarises_without_training(tmp_path, smoke_run):
    """--finished-only tables the finished part of a larger grid and trains nothing."""
    _, _, cache = smoke_run
    assert CliRunner().invoke(main, _ablate_args(tmp_path, cache, "none", 1)).exit_code == 0
    res = CliRunner().invoke(
        main, _ablate_args(tmp_path, cache, "none,vicreg", 2, "--finished-only")
    )
    assert res.exit_code == 0, res.output
    assert res.output.count("[reused]") == 1 and "[finished]" not in res.output
    assert "| none | 1 |" in res.output and "| vicreg |" not in res.output
    empty = CliRunner().invoke(
        main, _ablate_args(tmp_path / "none_yet", cache, "sigreg", 1, "--finished-only")
    )
    assert empty.exit_code != 0 and "no finished run" in empty.output


def test_bad_train_window_fails_before_writing_a_run(tmp_path, smoke_run):
    _, _, cache = smoke_run
    out = tmp_path / "runs"
    args = ["run", "-m", "convnext_mlp_smoke", "-t", "wall_door", "-b", "smoke", "-q"]
    args += ["--window", "1", "--out", str(out), "--data-dir", str(cache)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "train.window: must be 0" in res.output
    assert not out.exists() or not any(out.iterdir())
