"""``jepa-bench report``: figures, the HTML page, side-by-side runs and the verdict rule."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.cli import main
from jepa_bench.evaluate.collapse import collapse_stats
from jepa_bench.registry import TASKS
from jepa_bench.report import build_report
from jepa_bench.report.analysis import nearest_neighbours, pca_fit, temporal_ratio
from jepa_bench.report.build import analyse_run
from jepa_bench.report.checkpoints import find_snapshots, pick_evenly
from jepa_bench.report.diagnosis import DiagnosisInputs, diagnose, probe_gain
from jepa_bench.report.figures import to_rgb
from jepa_bench.report.html import FIGURES
from jepa_bench.runner import RunDir, RunDirError, execute_run, resolve

pytestmark = pytest.mark.slow  # trains or launches processes; `-m "not slow"` skips

TSNE = 120  # small t-SNE maps keep the tests fast
FIGURE_FILES = {f"{name}.png" for name in FIGURES}


def _run(root: Path, model: str, task: str) -> Path:
    cfg = resolve(dict(
        model=model, task=task, budget="smoke", device="cpu", out=str(root / "runs"),
        data_dir=str(root / "cache"),
    ))  # fmt: skip
    record = execute_run(cfg, progress=False)
    return root / "runs" / record["run_id"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Smoke runs: convnext_mlp and lewm on wall_door (lewm through `run --report`), arm_sim."""
    root = tmp_path_factory.mktemp("report_runs")
    out = {"convnext": _run(root, "convnext_mlp_smoke", "wall_door")}
    args = ["run", "-m", "lewm_smoke", "-t", "wall_door", "-b", "smoke", "--device", "cpu"]
    args += ["--out", str(root / "runs"), "--data-dir", str(root / "cache"), "-q", "--report"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    page = Path(re.search(r"report: (\S+report\.html)", res.output).group(1))
    out["lewm"] = page.parent.parent
    if "arm_sim" in TASKS:
        out["arm_sim"] = _run(root, "lewm_smoke", "arm_sim")
    return out


def _check_png(path: Path) -> None:
    img = mpimg.imread(path)  # (H, W, C) floats in [0, 1]
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50, path
    pixels = img.reshape(-1, img.shape[-1])
    assert len(np.unique(pixels[:: max(1, len(pixels) // 20000)], axis=0)) > 10, f"{path} blank"


def _check_page(page: Path) -> set[str]:
    """Every PNG under the folder is referenced and embedded byte for byte; returns the names."""
    text = page.read_text()
    files = {p.relative_to(page.parent).as_posix() for p in page.parent.rglob("*.png")}
    referenced = set(re.findall(r'data-file="([^"]+)"', text))
    assert referenced == files
    for rel in files:
        assert f'href="{rel}"' in text
        _check_png(page.parent / rel)
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)" data-file="([^"]+)"', text)
    assert {rel for _, rel in embedded} == files
    for data, rel in embedded:
        assert base64.b64decode(data) == (page.parent / rel).read_bytes()
    return files


@pytest.mark.parametrize("name", ["convnext", "arm_sim"])
def test_single_run_report_has_every_figure(runs: dict[str, Path], name: str, tmp_path: Path):
    """A report holds every figure as a valid, non-blank PNG, all referenced and embedded."""
    if name not in runs:
        pytest.skip("arm_sim is not registered")
    page = build_report([runs[name]], tmp_path / "rep", tsne_points=TSNE)
    assert page == tmp_path / "rep" / "report.html"
    assert _check_page(page) == FIGURE_FILES
    text = page.read_text()
    assert re.search(r'class="verdict"[^>]*>(collapsed|blind|lazy|drifting|healthy)<', text)
    assert "How the verdict is decided" in text


def test_run_flag_writes_report_into_run_dir(runs: dict[str, Path]):
    """`jepa-bench run --report` leaves RUN_DIR/report/report.html with every figure."""
    assert _check_page(runs["lewm"] / "report" / "report.html") == FIGURE_FILES


def test_several_runs_side_by_side(runs: dict[str, Path], tmp_path: Path):
    """Two runs give one page: each run's figures in its own folder plus comparison figures."""
    res = CliRunner().invoke(
        main,
        ["report", str(runs["convnext"]), str(runs["lewm"]), "-o", str(tmp_path / "ab"),
         "--tsne-points", str(TSNE), "--max-windows", "8"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    files = _check_page(tmp_path / "ab" / "report.html")
    folders = {f.split("/")[0] for f in files if "/" in f}
    assert len(folders) == 2
    for folder in folders:
        assert {f.split("/")[1] for f in files if f.startswith(folder + "/")} == FIGURE_FILES
    compare = {f for f in files if "/" not in f}
    assert compare == {f"compare_{n}.png" for n in ("drift", "probes", "training", "summary")}
    text = (tmp_path / "ab" / "report.html").read_text()
    assert "run 1: wall_door / convnext_mlp_smoke" in text
    assert "run 2: wall_door / lewm_smoke" in text


def test_snapshots_are_compared(runs: dict[str, Path], tmp_path: Path):
    """A model_step<N>.safetensors snapshot appears between step 0 and the final weights."""
    run = tmp_path / "run"
    shutil.copytree(runs["convnext"], run, ignore=shutil.ignore_patterns("report"))
    shutil.copy(run / "model.safetensors", run / "model_step2.safetensors")
    a = analyse_run(run, max_windows=6)
    assert [c.step for c in a.checkpoints] == [0, 2, 3]
    assert a.checkpoints[1].label == "step 2"
    # the snapshot holds the final weights, so its statistics equal the final ones
    assert a.checkpoints[1].effective_rank == pytest.approx(a.checkpoints[2].effective_rank)


def test_failure_leaves_previous_report_untouched(runs: dict[str, Path], tmp_path: Path):
    """A bad run directory is a clear error and neither half-writes nor removes a report."""
    out = tmp_path / "rep"
    out.mkdir()
    (out / "keep.txt").write_text("earlier report")
    broken = tmp_path / "broken"
    shutil.copytree(runs["convnext"], broken, ignore=shutil.ignore_patterns("report"))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="model.safetensors"):
        build_report([runs["convnext"], broken], out, tsne_points=TSNE, max_windows=4)
    assert (out / "keep.txt").read_text() == "earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "rep"]
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "no config.yaml" in res.output


def test_corrupt_log_line_is_named(tmp_path: Path):
    """A training log with a broken line is an error naming the file and line."""
    log = tmp_path / "train_log.jsonl"
    log.write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss"\n')
    with pytest.raises(RunDirError, match="line 2"):
        RunDir(tmp_path).log()


def test_to_rgb_channel_mixing():
    """Observations of 1, 2 and 3 channels become (H, W, 3) images in [0, 1]."""
    rng = np.random.default_rng(0)
    for c in (1, 2, 3):
        img = to_rgb(rng.uniform(0, 1, (c, 5, 7)))
        assert img.shape == (5, 7, 3) and img.min() >= 0 and img.max() <= 1
    three = rng.uniform(0, 1, (3, 4, 4))
    np.testing.assert_allclose(to_rgb(three), three.transpose(1, 2, 0))


def test_snapshot_discovery(tmp_path: Path):
    """Snapshots are found by name and ordered by step; even picking keeps the last."""
    for step in (100, 20, 3):
        (tmp_path / f"model_step{step}.safetensors").write_bytes(b"")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert [s for s, _ in find_snapshots(tmp_path)] == [3, 20, 100]
    assert pick_evenly(list(range(10)), 3) == [0, 4, 9]  # round(4.5) = 4 (to even)


# --- the verdict rule on synthetic numbers -----------------------------------------------------


def _latents(n_seq: int, t: int, d: int, motion: float, offset: float, seed: int = 0):
    """Sequences = per-sequence static offset + motion over time; returns (z (N*T, D), seq)."""
    rng = np.random.default_rng(seed)
    static = offset * rng.normal(size=(n_seq, 1, d))
    moving = motion * rng.normal(size=(n_seq, t, d))
    z = (static + moving).reshape(-1, d)
    return z, np.repeat(np.arange(n_seq), t)


def _inputs(z, seq, err: float, gain: float | None) -> DiagnosisInputs:
    return DiagnosisInputs(collapse_stats(z), temporal_ratio(z, seq), err, gain, window_len=17)


def test_verdict_collapsed():
    """Constant latents are collapsed whatever the other numbers say."""
    z = np.ones((200, 8)) + 1e-6 * np.random.default_rng(0).normal(size=(200, 8))
    seq = np.repeat(np.arange(20), 10)
    assert diagnose(_inputs(z, seq, err=0.01, gain=0.5)).verdict == "collapsed"


def test_verdict_lazy_static_latents():
    """Latents that barely move within a sequence, with a low error, are lazy."""
    z, seq = _latents(20, 10, 8, motion=0.05, offset=1.0)
    assert temporal_ratio(z, seq) < 0.05
    d = diagnose(_inputs(z, seq, err=0.1, gain=0.5))
    assert d.verdict == "lazy" and "barely change" in d.headline


def test_verdict_lazy_probe_no_better():
    """Moving latents whose probe is no better than the untrained model's are lazy."""
    z, seq = _latents(20, 10, 8, motion=1.0, offset=1.0)
    d = diagnose(_inputs(z, seq, err=0.1, gain=0.01))
    assert d.verdict == "lazy" and "probes" in d.headline


def test_verdict_drifting_and_healthy():
    """Moving latents with a useful probe are drifting above relative error 1, healthy below."""
    z, seq = _latents(20, 10, 8, motion=1.0, offset=1.0)
    assert diagnose(_inputs(z, seq, err=3.0, gain=0.4)).verdict == "drifting"
    assert diagnose(_inputs(z, seq, err=float("nan"), gain=0.4)).verdict == "drifting"
    healthy = diagnose(_inputs(z, seq, err=0.3, gain=0.4))
    assert healthy.verdict == "healthy" and len(healthy.reasons) == 5


def test_probe_gain_kinds():
    """R2 gains use 1 - R2 as the error; MSE gains the value; untouched metrics gain 0."""
    kinds = {"probe/a/r2": "r2", "probe/normal": "mse"}
    same = {"probe/a/r2": 0.3, "probe/normal": 100.0}
    assert probe_gain(same, same, kinds) == pytest.approx(0.0)
    better = {"probe/a/r2": 0.65, "probe/normal": 50.0}  # error 0.35 vs 0.7, 50 vs 100
    assert probe_gain(better, same, kinds) == pytest.approx(0.5)
    assert probe_gain({}, same, kinds) is None


@settings(max_examples=30, deadline=None)
@given(
    scale=st.floats(0.01, 100.0),
    shift=st.floats(-50.0, 50.0),
    motion=st.floats(0.05, 2.0),
    seed=st.integers(0, 1000),
)
def test_temporal_ratio_invariant_to_scale_and_shift(scale, shift, motion, seed):
    """The within/across variance ratio ignores the latents' scale and offset."""
    z, seq = _latents(6, 5, 4, motion=motion, offset=1.0, seed=seed)
    base = temporal_ratio(z, seq)
    assert temporal_ratio(scale * z + shift, seq) == pytest.approx(base, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(n_seq=st.integers(2, 6), t=st.integers(1, 6), k=st.integers(1, 4), seed=st.integers(0, 99))
def test_neighbours_come_from_other_sequences(n_seq, t, k, seed):
    """Neighbours are the nearest points of other sequences whenever there are k of them."""
    z = np.random.default_rng(seed).normal(size=(n_seq * t, 3))
    seq = np.repeat(np.arange(n_seq), t)
    nb = nearest_neighbours(z, seq, np.arange(len(z)), k)
    for a, idx, dist in zip(nb.anchors, nb.idx, nb.dist):
        assert a not in idx and np.all(np.diff(dist) >= 0)
        if (seq != seq[a]).sum() >= k:
            assert np.all(seq[idx] != seq[a])
            others = np.linalg.norm(z[seq != seq[a]] - z[a], axis=1)
            assert dist[-1] <= np.sort(others)[k - 1] + 1e-12


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 6), seed=st.integers(0, 99))
def test_pca_shares_are_a_partition(n, d, seed):
    """Explained-variance shares are non-negative, sorted and sum to at most 1."""
    z = np.random.default_rng(seed).normal(size=(n, d))
    _, axes, share = pca_fit(z)
    assert axes.shape == (2, d)
    assert np.all(share >= 0) and share[0] >= share[1] - 1e-12 and share.sum() <= 1 + 1e-9
