"""The report's verdict in plain words, from a few numbers and a written rule.

Rule (checked in this order; the first that holds is the verdict):

1. **collapsed**: ``jepa_bench.evaluate.collapse.is_collapsed`` on the encoded latents (constant,
   one dominant direction, or effective rank < 2).
2. **lazy**: either
   (a) the latents barely move over time: within-sequence variance / across-sequence variance
   < 0.05, while the rollout error over the training window is low (relative error < 1, i.e.
   better than always predicting the mean latent), so the low error only reflects a static
   background or layout; or
   (b) the probes read no more from the trained latents than from the untrained twin's: their
   error shrinks by less than 5% (error = MSE, or 1 - R2 for R2 probes; mean over probe metrics).
3. **drifting**: the rollout's relative error over the training window is above 1: within the
   horizon it was trained on, the predictor does worse than the mean latent.
4. **healthy**: none of the above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from jepa_bench.evaluate.collapse import CollapseStats, is_collapsed

LAZY_TEMPORAL_RATIO = 0.05
LOW_REL_ERROR = 1.0
PROBE_MIN_GAIN = 0.05

RULE = (
    "Checked in order, the first that holds is the verdict. "
    "(1) collapsed: the encoded latents are constant (mean per-dimension std <= 1% of their RMS), "
    "have one direction with > 90% of the variance, or an effective rank < 2. "
    f"(2) lazy: (a) within-sequence / across-sequence latent variance < {LAZY_TEMPORAL_RATIO} "
    f"while the rollout's relative error over the training window is < {LOW_REL_ERROR} "
    "(the error is low only because the latents hardly change), or (b) the probes' error is "
    f"less than {PROBE_MIN_GAIN:.0%} lower than the untrained model's (error = MSE, or 1 - R2). "
    f"(3) drifting: relative rollout error over the training window > {LOW_REL_ERROR} "
    "(worse than predicting the mean latent). (4) healthy otherwise. "
    "Relative error = rollout MSE / mean per-dimension variance of the encoded latents."
)


@dataclass
class DiagnosisInputs:
    """The numbers the rule reads."""

    collapse: CollapseStats  # collapse_stats of the encoded latents
    temporal_ratio: float  # within / across sequence variance (NaN: one sequence)
    horizon_rel_error: float  # mean relative rollout error over steps 1 .. window - 1
    probe_gain: float | None  # relative probe-error reduction vs the untrained model
    probe_source: str = "probes"
    window_len: int = 0


@dataclass
class Diagnosis:
    """A verdict, one plain sentence, and the numbers behind it."""

    verdict: str  # collapsed | lazy | drifting | healthy
    headline: str
    reasons: list[str] = field(default_factory=list)


def _error(value: float, kind: str) -> float:
    return 1.0 - value if kind == "r2" else value


def probe_gain(
    trained: dict[str, float], untrained: dict[str, float], kinds: dict[str, str]
) -> float | None:
    """Mean over metrics of 1 - error_trained / error_untrained (``kinds``: "r2" or "mse").

    Metrics missing from either side, non-finite, or with a non-positive untrained error are
    skipped; None when none is left.
    """
    gains = []
    for key, kind in kinds.items():
        if key not in trained or key not in untrained:
            continue
        e_t, e_u = _error(trained[key], kind), _error(untrained[key], kind)
        if math.isfinite(e_t) and math.isfinite(e_u) and e_u > 0:
            gains.append(1.0 - e_t / e_u)
    return sum(gains) / len(gains) if gains else None


def record_probe_kinds(metrics: dict[str, Any]) -> dict[str, str]:
    """Probe metric keys of a record and their kind: ``probe/<t>/r2`` r2, ``probe/<split>`` mse."""
    kinds = {}
    for key in metrics:
        parts = key.split("/")
        if parts[0] != "probe":
            continue
        if parts[-1] == "r2":
            kinds[key] = "r2"
        elif len(parts) == 2:
            kinds[key] = "mse"
    return kinds


def diagnose(x: DiagnosisInputs) -> Diagnosis:
    """Apply the module's rule."""
    collapsed, message = is_collapsed(x.collapse)
    ratio, err, gain = x.temporal_ratio, x.horizon_rel_error, x.probe_gain
    reasons = [
        f"collapse check: {message}",
        f"within/across-sequence variance ratio: {ratio:.3g}",
        f"relative rollout error over the training window ({x.window_len} frames): {err:.3g}",
        "probe error relative to the untrained model: "
        + ("n/a" if gain is None else f"{-gain:+.1%} ({x.probe_source})"),
    ]
    if collapsed:
        head = "Collapsed: the encoder maps frames onto (nearly) one point or one line, so neither "
        head += "the probes nor a planner can read the state from it."
        return Diagnosis("collapsed", head, reasons)
    if ratio < LAZY_TEMPORAL_RATIO and err < LOW_REL_ERROR:
        head = (
            f"Lazy: the rollout error looks low ({err:.2f} of the latent variance), but the "
            f"latents barely change within a sequence (ratio {ratio:.3f} < {LAZY_TEMPORAL_RATIO}): "
            "they encode the static background or layout, not the motion."
        )
        return Diagnosis("lazy", head, reasons)
    if gain is not None and gain < PROBE_MIN_GAIN:
        head = (
            f"Lazy: the probes read about as much from the trained latents as from the untrained "
            f"ones (probe error {-gain:+.1%} relative to the untrained model; at least "
            f"{PROBE_MIN_GAIN:.0%} lower is needed): training has not made the state more "
            "accessible."
        )
        return Diagnosis("lazy", head, reasons)
    if not err <= LOW_REL_ERROR:  # NaN counts as drifting
        head = (
            f"Drifting: within the training window the rollout is worse than predicting the "
            f"mean latent (relative error {err:.2f} > {LOW_REL_ERROR})."
        )
        return Diagnosis("drifting", head, reasons)
    head = (
        f"Healthy: not collapsed, the latents move over time (ratio {ratio:.3f}), the rollout "
        f"beats the mean latent over the training window (relative error {err:.2f})"
    )
    if gain is not None:
        head += f", and the probes' error is {gain:.0%} below the untrained model's"
    head += "."
    return Diagnosis("healthy", head, reasons)


def summary_numbers(x: DiagnosisInputs) -> dict[str, float]:
    """The diagnosis numbers of a run, for the side-by-side figure and table."""
    return {
        "effective rank": float(x.collapse["effective_rank"]),
        "top PC share": float(x.collapse["top_pc_share"]),
        "within/across variance": x.temporal_ratio,
        "rel. error (training window)": x.horizon_rel_error,
        "probe error reduction": float("nan") if x.probe_gain is None else x.probe_gain,
    }
