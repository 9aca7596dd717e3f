"""The report's verdict names what it sees: blind (probes at chance) on a smoke run, healthy on a
trained one, from the probe evidence of the record (trained vs untrained twin vs chance)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from jepa_bench.data.wall_door.task import wall_door
from jepa_bench.evaluate.collapse import collapse_stats
from jepa_bench.evaluate.suites import chance_mse
from jepa_bench.report.analysis import temporal_ratio
from jepa_bench.report.build import analyse_run
from jepa_bench.report.diagnosis import (
    BLIND_CHANCE_RATIO,
    DiagnosisInputs,
    chance_ratios,
    diagnose,
    probe_evidence,
)
from jepa_bench.runner import execute_run, resolve

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "leaderboard"
TINY = dict(
    train=16, probe_normal_train=16, probe_normal_val=8, probe_wall_val=8,
    probe_wall_other_val=8, probe_expert_train=8, probe_expert_val=8,
)  # fmt: skip


def moving_inputs(err: float, chance: float | None, untrained: float | None = None):
    """Not collapsed, moving latents (ratio ~1) with the given error and chance ratios."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 8))
    seq = np.repeat(np.arange(20), 10)
    return DiagnosisInputs(
        collapse_stats(z), temporal_ratio(z, seq), err, 0.5, window_len=17,
        chance_ratio=chance, untrained_chance_ratio=untrained, probe_targets=("location",),
    )  # fmt: skip


def test_blind_with_low_latent_error_names_the_silent_failure() -> None:
    """Probes at chance with a low latent error: blind, in the numbers of the example symptom."""
    d = diagnose(moving_inputs(err=0.05, chance=0.93, untrained=0.95))
    assert d.verdict == "blind"
    assert "at chance (0.93x the constant predictor's error; the untrained twin's: 0.95x)" in (
        d.headline
    )
    assert "while the latent error is low (0.05 of the latent variance)" in d.headline
    assert "carry no location" in d.headline and "0.93x" in d.reasons[-1]


def test_blind_needs_the_chance_threshold() -> None:
    """Just below the threshold the verdict falls through to the old rule; no ratio: never blind."""
    assert diagnose(moving_inputs(0.05, BLIND_CHANCE_RATIO)).verdict == "blind"
    healthy = diagnose(moving_inputs(0.05, BLIND_CHANCE_RATIO - 0.01))
    assert healthy.verdict == "healthy" and "0.79x the constant predictor's" in healthy.headline
    assert diagnose(moving_inputs(3.0, None)).verdict == "drifting"
    assert "relative error 3" in diagnose(moving_inputs(3.0, 1.2)).headline


def test_chance_ratios_per_kind() -> None:
    """MSE probes divide by chance/<split> (skipped without it); R² probes give 1 - R²."""
    metrics = {"probe/normal": 50.0, "chance/normal": 200.0, "probe/wall": 9.0}
    metrics |= {"probe/action/r2": 0.3, "probe/action/r2_lo": 0.1}
    kinds = {"probe/normal": "mse", "probe/wall": "mse", "probe/action/r2": "r2"}
    assert chance_ratios(metrics, kinds) == pytest.approx({"probe/normal": 0.25,
                                                           "probe/action/r2": 0.7})  # fmt: skip
    ev = probe_evidence({"probe/wall": 9.0}, {"probe/wall": 90.0}, {}, {})
    assert ev.gain == pytest.approx(0.9) and ev.chance_ratio is None  # an eval-v1 record


def _analyse(run_dir: Path, data_dir: Path | None = None):
    return analyse_run(run_dir, max_windows=8, data_dir=None if data_dir is None else str(data_dir))


def test_a_smoke_run_is_blind(tmp_path: Path) -> None:
    """A smoke run (3 steps, probes trained 2 epochs) reads nothing: the report calls it blind,
    with the probes at the constant predictor's error, and says the rollout has not learnt."""
    cfg = resolve(dict(
        model="convnext_mlp_smoke", task="wall_door", budget="smoke", device="cpu",
        out=str(tmp_path / "runs"), data_dir=str(tmp_path / "cache"), task_kwargs=dict(TINY),
    ))  # fmt: skip
    record = execute_run(cfg, progress=False)
    a = _analyse(tmp_path / "runs" / record["run_id"])
    d = a.diagnosis
    assert d.verdict == "blind", d.headline
    assert a.inputs.chance_ratio is not None and a.inputs.chance_ratio >= BLIND_CHANCE_RATIO
    assert "at chance" in d.headline and "constant predictor" in d.headline
    assert "carry no location" in d.headline


def committed_run(pattern: str, dest: Path) -> Path:
    """A run directory made of a committed leaderboard record and its checkpoint. Records that
    predate ``chance/<split>`` get it as the evaluator computes it today (``chance_mse`` of the
    task's own location arrays, every window scored as those records were); nothing else of the
    record is changed."""
    found = sorted((BOARD / "records" / "wall_door").glob(f"{pattern}.json"))
    assert found, f"no committed record matches {pattern}"
    record = json.loads(found[0].read_text())
    run = dest / found[0].stem
    run.mkdir(parents=True)
    shutil.copy(BOARD / "checkpoints" / "wall_door" / f"{found[0].stem}.safetensors",
                run / "model.safetensors")  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(record["config"]))
    task = wall_door(budget=record["budget"], data_dir=str(dest / "cache"))
    for suite in task.probe_suites():
        for split, ws in suite.evals.items():
            chance = chance_mse(suite.train.locations, ws.locations)  # type: ignore[attr-defined]
            for part in ("metrics", "untrained_metrics"):
                record[part].setdefault(
                    f"chance/{split}", {"value": chance, "higher_is_better": False}
                )
    (run / "result.json").write_text(json.dumps(record))
    return run


def test_a_trained_run_is_healthy(tmp_path: Path) -> None:
    """The committed default-budget convnext_mlp (SIGReg) run: not collapsed, a low latent error
    and probes far below chance: healthy, with the chance ratio in the headline. (No smoke-size
    run learns, so the healthy case is this real trained run, not an edited smoke record.)"""
    a = _analyse(committed_run("wall_door__convnext_mlp__sigreg__s0__default__*", tmp_path),
                 tmp_path / "cache")  # fmt: skip
    d = a.diagnosis
    assert d.verdict == "healthy", d.headline
    assert a.inputs.chance_ratio is not None and a.inputs.chance_ratio < 0.2
    assert a.inputs.untrained_chance_ratio is not None and a.inputs.untrained_chance_ratio > 0.8
    assert "x the constant predictor's" in d.headline


def test_a_trained_blind_run_is_named_blind(tmp_path: Path) -> None:
    """The committed default-budget convnext_mlp with bias_free and no anti-collapse term trains
    for 280 steps yet its probes sit at the constant predictor's error: blind, not lazy."""
    a = _analyse(committed_run("wall_door__convnext_mlp__bias_free__s0__default__*", tmp_path),
                 tmp_path / "cache")  # fmt: skip
    assert a.diagnosis.verdict == "blind", a.diagnosis.headline
    assert a.inputs.chance_ratio is not None and a.inputs.chance_ratio > 0.95
