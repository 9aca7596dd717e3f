"""Analyse run directories and write the report: figures, then the HTML page, atomically.

``build_report`` is what ``jepa-bench report`` and ``jepa-bench run --report`` call.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepa_bench.evaluate.collapse import MIN_EFFECTIVE_RANK, TOP_PC_MAX, is_collapsed
from jepa_bench.report import figures as F
from jepa_bench.report import figures_curves as FC
from jepa_bench.report.analysis import (
    nearest_neighbours,
    pixel_distance,
    spread_anchors,
    subsample,
    temporal_ratio,
    tsne_2d,
)
from jepa_bench.report.checkpoints import CheckpointStats, compare_checkpoints
from jepa_bench.report.diagnosis import (
    BLIND_CHANCE_RATIO,
    LAZY_TEMPORAL_RATIO,
    LOW_REL_ERROR,
    PROBE_MIN_GAIN,
    Diagnosis,
    DiagnosisInputs,
    diagnose,
    probe_evidence,
    record_probe_kinds,
    summary_numbers,
)
from jepa_bench.report.encode import ModelLatents, model_latents
from jepa_bench.report.latents import ReportData, ReportRun, load_run

DEFAULT_TSNE_POINTS = 1500
DEFAULT_MAX_WINDOWS = 64
N_ANCHORS, N_NEIGHBOURS, N_RANDOM = 4, 5, 8


@dataclass
class RunAnalysis:
    """Everything the report says about one run."""

    run: ReportRun
    data: ReportData
    trained: ModelLatents
    untrained: ModelLatents
    checkpoints: list[CheckpointStats]
    inputs: DiagnosisInputs
    diagnosis: Diagnosis
    seconds: dict[str, float] = field(default_factory=dict)


def _metric_values(record: dict[str, Any] | None, part: str) -> dict[str, float]:
    if not record:
        return {}
    return {k: float(v["value"]) for k, v in record.get(part, {}).items() if "value" in v}


def analyse_run(
    run_dir: str | Path,
    *,
    max_windows: int | None = DEFAULT_MAX_WINDOWS,
    device: str = "cpu",
    data_dir: str | None = None,
) -> RunAnalysis:
    """Load a run, compute latents of its trained and untrained models and checkpoints, diagnose."""
    from jepa_bench.report.latents import report_data

    t0 = time.perf_counter()
    run = load_run(run_dir, device=device, data_dir=data_dir)
    data = report_data(run.task, max_windows)
    t1 = time.perf_counter()
    trained = model_latents(run.model, data, run.device)
    untrained = model_latents(run.untrained, data, run.device)
    t2 = time.perf_counter()
    ckpts = compare_checkpoints(run, data, trained, untrained, model_latents)
    t3 = time.perf_counter()
    horizon = max(2, min(data.window_len, len(trained.drift_rel)))
    trained_m, untrained_m = (
        _metric_values(run.record, "metrics"),
        _metric_values(run.record, "untrained_metrics"),
    )
    ev = probe_evidence(trained_m, untrained_m, trained.probe_r2, untrained.probe_r2)
    inputs = DiagnosisInputs(
        collapse=trained.collapse,
        temporal_ratio=temporal_ratio(trained.enc, trained.seq),
        horizon_rel_error=float(np.mean(trained.drift_rel[1:horizon])),
        probe_gain=ev.gain,
        probe_source=ev.source,
        window_len=data.window_len,
        chance_ratio=ev.chance_ratio,
        untrained_chance_ratio=ev.untrained_chance_ratio,
        probe_targets=data.targets,
    )
    seconds = {"load": t1 - t0, "latents": t2 - t1, "checkpoints": t3 - t2}
    return RunAnalysis(run, data, trained, untrained, ckpts, inputs, diagnose(inputs), seconds)


Series = dict[str, dict[str, float]]  # curve label -> target -> value


def _probe_panels(a: RunAnalysis) -> tuple[Series, str, Series]:
    """(R2 series, R2 title, MSE series) for the probe figure, untrained first."""
    rec = a.run.record
    r2: Series = {}
    mse: Series = {}
    for part, name in (("untrained_metrics", "untrained"), ("metrics", "trained")):
        vals = _metric_values(rec, part)
        kinds = record_probe_kinds(vals)
        got_r2 = {
            k[len("probe/") : -len("/r2")]: vals[k] for k, kind in kinds.items() if kind == "r2"
        }
        got_mse = {k[len("probe/") :]: vals[k] for k, kind in kinds.items() if kind == "mse"}
        if got_r2:
            r2[name] = got_r2
        if got_mse:
            mse[name] = got_mse
    if r2:
        return r2, "linear-probe R2 per target (result.json)", mse
    ridge = {"untrained": a.untrained.probe_r2, "trained": a.trained.probe_r2}
    return ridge, "ridge-probe R2 on encoded latents (split-half over sequences)", mse


def _neighbour_frames(a: RunAnalysis, seed: int) -> tuple[Any, np.ndarray, list, float]:
    """Anchors, neighbours, their frames (A, 1 + K, C, H, W), captions, and the pixel ratio."""
    lat, pts = a.trained, a.data.seqs
    k = max(1, min(N_NEIGHBOURS, len(lat.enc) - 1))  # sequences have >= 2 frames, so P >= 2
    nb = nearest_neighbours(lat.enc, lat.seq, spread_anchors(lat.enc, N_ANCHORS), k)
    rng = np.random.default_rng(seed)
    rows = [[int(anchor), *map(int, nb.idx[r])] for r, anchor in enumerate(nb.anchors)]
    randoms = []
    for anchor in nb.anchors:
        others = np.flatnonzero(lat.seq != lat.seq[anchor])
        others = others if len(others) else np.arange(len(lat.seq))
        randoms.append(rng.choice(others, size=min(N_RANDOM, len(others)), replace=False))
    wanted = sorted({int(i) for row in rows for i in row} | {int(i) for r in randoms for i in r})
    frames = dict(zip(wanted, pts.frames([(int(lat.seq[i]), int(lat.t[i])) for i in wanted])))
    captions, near, far = [], [], []
    for r, row in enumerate(rows):
        ep = [int(pts.episode[lat.seq[i]]) for i in row]
        caps = [f"anchor {r + 1}: {pts.unit} {ep[0]} t{lat.t[row[0]]}"]
        caps += [
            f"{pts.unit} {e} t{lat.t[i]} d={d:.2g}" for e, i, d in zip(ep[1:], row[1:], nb.dist[r])
        ]
        captions.append(caps)
        near += [pixel_distance(frames[row[0]], frames[i]) for i in row[1:]]
        far += [pixel_distance(frames[row[0]], frames[int(i)]) for i in randoms[r]]
    ratio = float(np.mean(near) / np.mean(far)) if far and np.mean(far) > 0 else float("nan")
    return nb, np.stack([[frames[i] for i in row] for row in rows]), captions, ratio


def run_figures(
    a: RunAnalysis, folder: Path, tsne_points: int | None = DEFAULT_TSNE_POINTS, seed: int = 0
) -> dict[str, Path]:
    """Draw every per-run figure into ``folder``; returns name -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    lat, data, out = a.trained, a.data, {}
    t0 = time.perf_counter()
    markers: dict[str, float] = {f"training window ({data.window_len} frames)": data.window_len - 1}
    if data.train_len != data.window_len:
        markers[f"median training episode ({data.train_len:g} frames)"] = data.train_len - 1
    curves = [FC.Curve("untrained", a.untrained.drift_rel), FC.Curve("trained", lat.drift_rel)]
    out["drift"] = FC.drift_figure(curves, markers, lat.drift_count, folder / "drift.png", True)
    names = [f"{data.seqs.unit} {e}" for e in data.seqs.episode]
    out["pca"] = F.pca_figure(lat.enc, lat.seq, lat.t, folder / "pca.png", names)
    nb, frames, captions, ratio = _neighbour_frames(a, seed)
    out["neighbours"] = F.neighbours_figure(
        lat.enc, nb, frames, captions, ratio, folder / "neighbours.png"
    )
    t1 = time.perf_counter()
    idx = subsample(len(lat.enc), None if tsne_points is None else max(2, tsne_points // 2), seed)
    emb = tsne_2d(np.concatenate([lat.enc[idx], lat.pred[idx]]), seed=seed)
    is_pred = np.repeat([False, True], len(idx))
    t2 = time.perf_counter()
    out["tsne"] = F.tsne_figure(emb, is_pred, len(lat.enc), folder / "tsne.png")
    r2, r2_title, mse = _probe_panels(a)
    out["probes"] = FC.probe_figure(r2, r2_title, mse, folder / "probes.png")
    _, message = is_collapsed(lat.collapse)
    out["collapse"] = F.collapse_figure(
        lat.enc, lat.collapse, a.untrained.enc, a.untrained.collapse, message,
        folder / "collapse.png",
    )  # fmt: skip
    out["training"] = FC.training_figure([("run", a.run.log)], folder / "training.png")
    out["checkpoints"] = FC.checkpoints_figure(
        a.checkpoints, data.window_len, folder / "checkpoints.png"
    )
    a.seconds.update(tsne=t2 - t1, figures=time.perf_counter() - t0 - (t2 - t1))
    return out


THRESHOLDS = {
    "effective rank": MIN_EFFECTIVE_RANK,
    "top PC share": TOP_PC_MAX,
    "within/across variance": LAZY_TEMPORAL_RATIO,
    "rel. error (training window)": LOW_REL_ERROR,
    "probe error reduction": PROBE_MIN_GAIN,
    "probe error / chance": BLIND_CHANCE_RATIO,
}


def compare_figures(
    analyses: list[RunAnalysis], labels: list[str], folder: Path
) -> dict[str, Path]:
    """Figures putting several runs on the same axes."""
    out = {}
    curves = [FC.Curve(lab, a.trained.drift_rel) for lab, a in zip(labels, analyses)]
    windows = {a.data.window_len for a in analyses}
    markers = {f"training window ({w} frames)": w - 1 for w in sorted(windows)}
    out["drift"] = FC.drift_figure(curves, markers, None, folder / "compare_drift.png")
    r2: Series = {lab: {} for lab in labels}
    mse: Series = {lab: {} for lab in labels}
    for lab, a in zip(labels, analyses):
        series, _, m = _probe_panels(a)
        r2[lab] = series.get("trained", {})
        mse[lab] = m.get("trained", {})
    mse = {k: v for k, v in mse.items() if v}
    out["probes"] = FC.probe_figure(
        r2, "probe R2 per target", mse, folder / "compare_probes.png", first_grey=False
    )
    logs = [(lab, a.run.log) for lab, a in zip(labels, analyses)]
    out["training"] = FC.training_figure(logs, folder / "compare_training.png")
    rows = {lab: summary_numbers(a.inputs) for lab, a in zip(labels, analyses)}
    out["summary"] = FC.summary_figure(rows, THRESHOLDS, folder / "compare_summary.png")
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:80]


def default_out(run_dirs: list[str | Path]) -> Path:
    """RUN_DIR/report for one run, ./report for several."""
    return Path(run_dirs[0]) / "report" if len(run_dirs) == 1 else Path("report")


def build_report(
    run_dirs: list[str | Path],
    out: str | Path | None = None,
    *,
    tsne_points: int | None = DEFAULT_TSNE_POINTS,
    max_windows: int | None = DEFAULT_MAX_WINDOWS,
    device: str = "cpu",
    data_dir: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> Path:
    """Write the report of ``run_dirs`` into ``out``; returns the HTML file.

    The folder is assembled next to ``out`` and moved into place at the end, so a failure leaves
    any earlier report untouched and no half-written one.
    """
    from jepa_bench.report.html import write_page

    if not run_dirs:
        raise ValueError("build_report needs at least one run directory")
    if tsne_points is not None and tsne_points < 4:
        raise ValueError(f"tsne_points must be >= 4 (or None for all points), got {tsne_points}")
    say = echo or (lambda _msg: None)
    out = Path(out) if out is not None else default_out(run_dirs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the report is meant to be shared
    try:
        analyses, figs = [], []
        for i, d in enumerate(run_dirs):
            say(f"analysing {d}")
            a = analyse_run(d, max_windows=max_windows, device=device, data_dir=data_dir)
            sub = "" if len(run_dirs) == 1 else f"run{i + 1}_{_slug(Path(d).resolve().name)}"
            analyses.append(a)
            figs.append(run_figures(a, tmp / sub if sub else tmp, tsne_points))
        labels = [a.run.label for a in analyses]
        if len(labels) > 1:
            labels = [f"run {i + 1}: {lab}" for i, lab in enumerate(labels)]
        compare = compare_figures(analyses, labels, tmp) if len(analyses) > 1 else {}
        page = write_page(tmp, analyses, labels, figs, compare)
        if out.exists():
            old = out.with_name(f".{out.name}-old-{time.time_ns()}")
            out.rename(old)
            tmp.rename(out)
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / page.name
