"""The report page: one self-contained HTML file (PNGs embedded as base64) beside the PNG files.

Every image links to its file, so the page also works as an index of the figures.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

from jepa_bench.report.diagnosis import RULE, summary_numbers

PAGE = "report.html"

# name -> (title, how to read it)
FIGURES: dict[str, tuple[str, str]] = {
    "drift": (
        "Predictive drift",
        "Rollout error per autoregressive step, relative to the latents' variance: the model "
        "starts from one encoded frame and then only sees actions. Below the dotted line (1) the "
        "rollout beats always predicting the mean latent. A flat, low stretch followed by a jump "
        "past the training lengths is the 'lazy then rupture' pattern; a flat curve is only good "
        "news if the latents also move over time (see the PCA coloured by time).",
    ),
    "pca": (
        "PCA of encoded latents",
        "Left: one colour and line per sequence. Filaments or loops mean consecutive frames stay "
        "close (sequential structure); a single blob or line means collapse; separate filaments "
        "that never meet mean sequences are told apart by their look rather than by shared states. "
        "Right: the same points coloured by time.",
    ),
    "neighbours": (
        "Nearest neighbours and their frames",
        "Anchors (red) spread over the latent space and their nearest latents from other "
        "sequences, with the frames they come from. If neighbours show the same state (agent or "
        "arm in the same place), latent distance means visual/physical similarity; the title's "
        "ratio compares pixel distances to neighbours with those to random frames.",
    ),
    "tsne": (
        "t-SNE: encoder vs predictor",
        "Encoded latents (blue) and rolled-out predictions of the same frames (orange). Overlap "
        "means the predictor stays on the encoder's manifold; separate clouds mean its rollouts "
        "leave the space the encoder uses.",
    ),
    "probes": (
        "Probes",
        "How much of the true state a probe reads from the latents, trained model beside its "
        "untrained twin. A trained model that does not beat the untrained one has learnt nothing "
        "the probe can use.",
    ),
    "collapse": (
        "Collapse statistics",
        "Per-dimension standard deviation, the covariance spectrum and the effective rank of "
        "the encoded latents, trained and untrained. Dead dimensions pile up at 0; a spectrum "
        "that drops by orders of magnitude after one or two components means (near) collapse.",
    ),
    "training": ("Training curves", "Every logged loss term, learning rate and gradient norm."),
    "checkpoints": (
        "Checkpoints over training",
        "The untrained model (step 0), saved snapshots (model_step<N>.safetensors) when the run "
        "kept any, and the final weights: drift, ridge-probe R2 on encoded latents and spread.",
    ),
}
COMPARE: dict[str, str] = {
    "summary": "The numbers behind each verdict, one bar per run.",
    "drift": "Relative rollout error of every run on the same axes.",
    "probes": "Probe scores of the trained models.",
    "training": "Training curves of every run on the same axes.",
}
VERDICT_COLOURS = {
    "collapsed": "#c0392b",
    "blind": "#34495e",
    "lazy": "#d68910",
    "drifting": "#8e44ad",
    "healthy": "#1e8449",
}
STYLE = """
body{font-family:system-ui,sans-serif;max-width:1500px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.verdict{display:inline-block;color:#fff;padding:.15em .6em;border-radius:.3em;font-weight:bold}
.run{border:1px solid #ddd;border-radius:.4em;padding:.6em 1em;margin:.8em 0}
.row{display:flex;gap:1em;flex-wrap:wrap} .row figure{margin:0;flex:1 1 480px}
figure img{max-width:100%} figcaption{font-size:.85em;color:#555}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ddd;padding:.2em .5em}
.rule{font-size:.85em;color:#444} small{color:#666}
"""


def _img(folder: Path, path: Path, label: str) -> str:
    rel = path.relative_to(folder).as_posix()
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><a href="{html.escape(rel)}"><img src="data:image/png;base64,{data}" '
        f'data-file="{html.escape(rel)}" alt="{html.escape(label)}"></a>'
        f"<figcaption>{html.escape(label)} ({html.escape(rel)})</figcaption></figure>"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.4g}"
    return html.escape(str(v))


def _metrics_table(record: dict[str, Any] | None) -> str:
    if not record:
        return "<p><small>No result.json: metrics of the benchmark run are not shown.</small></p>"
    rows = ["<tr><th>metric</th><th>trained</th><th>untrained</th><th>better</th></tr>"]
    unt = record.get("untrained_metrics", {})
    for key, m in record.get("metrics", {}).items():
        u = unt.get(key, {}).get("value", "-")
        better = "higher" if m.get("higher_is_better") else "lower"
        rows.append(
            f"<tr><td>{html.escape(key)}</td><td>{_fmt(m['value'])}</td><td>{_fmt(u)}</td>"
            f"<td>{better}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _run_block(a: Any, label: str) -> str:
    d = a.diagnosis
    colour = VERDICT_COLOURS.get(d.verdict, "#555")
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in d.reasons)
    notes = "; ".join(a.data.notes)
    return (
        f'<div class="run"><h3>{html.escape(label)}</h3>'
        f'<p><span class="verdict" style="background:{colour}">{html.escape(d.verdict)}</span> '
        f"{html.escape(d.headline)}</p><ul>{reasons}</ul>"
        f"<p><small>{html.escape(str(a.run.run_dir))} &middot; weights at step {a.run.step} "
        f"&middot; {html.escape(notes)}</small></p>"
        f"<details><summary>metrics of the run (result.json)</summary>"
        f"{_metrics_table(a.run.record)}</details></div>"
    )


def _numbers_table(analyses: list[Any], labels: list[str]) -> str:
    rows = [summary_numbers(a.inputs) for a in analyses]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        f"<tr><td>{html.escape(lab)}</td><td>{html.escape(a.diagnosis.verdict)}</td>"
        + "".join(f"<td>{_fmt(v)}</td>" for v in r.values())
        + "</tr>"
        for lab, a, r in zip(labels, analyses, rows)
    )
    return f"<table><tr><th>run</th><th>verdict</th>{head}</tr>{body}</table>"


def write_page(
    folder: Path,
    analyses: list[Any],
    labels: list[str],
    figs: list[dict[str, Path]],
    compare: dict[str, Path],
) -> Path:
    """Write ``folder/report.html`` from the analyses and their figure files; returns it."""
    title = labels[0] if len(labels) == 1 else f"{len(labels)} runs side by side"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>jepa-bench report: "
        f"{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>jepa-bench report: {html.escape(title)}</h1>",
        "<h2>Summary</h2>",
        *(_run_block(a, lab) for a, lab in zip(analyses, labels)),
        f'<p class="rule"><b>How the verdict is decided.</b> {html.escape(RULE)}</p>',
    ]
    if len(analyses) > 1:
        parts.append(_numbers_table(analyses, labels))
        parts.append("<h2>Runs compared</h2>")
        for name, path in compare.items():
            parts.append(f"<p>{html.escape(COMPARE.get(name, ''))}</p>")
            parts.append(f'<div class="row">{_img(folder, path, name)}</div>')
    for name, (fig_title, how) in FIGURES.items():
        parts.append(f"<h2>{html.escape(fig_title)}</h2><p>{html.escape(how)}</p><div class='row'>")
        for lab, f in zip(labels, figs):
            if name in f:
                parts.append(_img(folder, f[name], lab))
        parts.append("</div>")
    secs = "; ".join(
        f"{lab}: " + ", ".join(f"{k} {v:.1f}s" for k, v in a.seconds.items())
        for lab, a in zip(labels, analyses)
    )
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p><small>Generated {stamp}. Time: {html.escape(secs)}.</small></p>")
    parts.append("</body></html>")
    page = folder / PAGE
    page.write_text("\n".join(parts), encoding="utf-8")
    return page
