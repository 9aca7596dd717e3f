"""The report's verdict in plain words, from a few numbers and a written rule.

Rule (checked in this order; the first that holds is the verdict):

1. **collapsed**: ``jepa_bench.evaluate.collapse.is_collapsed`` on the encoded latents (constant,
   one dominant direction, or effective rank < 2).
2. **blind**: the record's probes are at chance: their error is on average at least
   ``BLIND_CHANCE_RATIO`` times the constant predictor's (``probe/<split>`` / ``chance/<split>``
   for MSE probes; 1 - R2 for R2 probes, whose R2 is measured against the split's own mean). The
   headline says whether the latent error is low meanwhile (the silent failure: the predictor
   predicts latents that carry no state) or not, and how the untrained twin's probes compare.
3. **lazy**: either
   (a) the latents barely move over time: within-sequence variance / across-sequence variance
   < 0.05, while the rollout error over the training window is low (relative error < 1, i.e.
   better than always predicting the mean latent), so the low error only reflects a static
   background or layout; or
   (b) the probes read no more from the trained latents than from the untrained twin's: their
   error shrinks by less than 5% (error = MSE, or 1 - R2 for R2 probes; mean over probe metrics).
4. **drifting**: the rollout's relative error over the training window is above 1: within the
   horizon it was trained on, the predictor does worse than the mean latent.
5. **healthy**: none of the above.

Records without ``chance/<split>`` (made before the evaluator recorded it) have no chance ratio
for their MSE probes, and then rule 2 reads only their R2 probes, if any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from jepa_bench.evaluate.collapse import CollapseStats, is_collapsed
from jepa_bench.record.metrics import chance_of

LAZY_TEMPORAL_RATIO = 0.05
LOW_REL_ERROR = 1.0
PROBE_MIN_GAIN = 0.05
BLIND_CHANCE_RATIO = 0.8  # probe error / the constant predictor's, at or above: blind

RULE = (
    "Checked in order, the first that holds is the verdict. "
    "(1) collapsed: the encoded latents are constant (mean per-dimension std <= 1% of their RMS), "
    "have one direction with > 90% of the variance, or an effective rank < 2. "
    f"(2) blind: the probes' error is on average >= {BLIND_CHANCE_RATIO}x the constant "
    "predictor's (MSE / chance MSE, or 1 - R2): the latents carry (almost) none of the probed "
    "state, whatever the latent error says. "
    f"(3) lazy: (a) within-sequence / across-sequence latent variance < {LAZY_TEMPORAL_RATIO} "
    f"while the rollout's relative error over the training window is < {LOW_REL_ERROR} "
    "(the error is low only because the latents hardly change), or (b) the probes' error is "
    f"less than {PROBE_MIN_GAIN:.0%} lower than the untrained model's (error = MSE, or 1 - R2). "
    f"(4) drifting: relative rollout error over the training window > {LOW_REL_ERROR} "
    "(worse than predicting the mean latent). (5) healthy otherwise. "
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
    chance_ratio: float | None = None  # mean probe error / the constant predictor's (trained)
    untrained_chance_ratio: float | None = None  # the same for the untrained twin
    probe_targets: tuple[str, ...] = ()  # what the probes read, for the headline


@dataclass
class Diagnosis:
    """A verdict, one plain sentence, and the numbers behind it."""

    verdict: str  # collapsed | blind | lazy | drifting | healthy
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


def chance_ratios(metrics: dict[str, float], kinds: dict[str, str]) -> dict[str, float]:
    """Each probe's error as a multiple of the constant predictor's: ``probe/<split>`` /
    ``chance/<split>`` (MSE probes whose record has it) or 1 - R2 (R2 probes); finite only."""
    out = {}
    for key, kind in kinds.items():
        if key not in metrics:
            continue
        if kind == "r2":
            ratio = 1.0 - metrics[key]
        else:
            chance = metrics.get(chance_of(key) or "", math.nan)
            ratio = metrics[key] / chance if chance > 0 else math.nan
        if math.isfinite(ratio):
            out[key] = ratio
    return out


def mean_ratio(ratios: dict[str, float]) -> float | None:
    """The mean of ``chance_ratios`` (None when there are none)."""
    return sum(ratios.values()) / len(ratios) if ratios else None


@dataclass
class ProbeEvidence:
    """What the probes say: the gain over the untrained twin and both models' chance ratios."""

    gain: float | None
    source: str
    chance_ratio: float | None
    untrained_chance_ratio: float | None


def probe_evidence(
    trained: dict[str, float],
    untrained: dict[str, float],
    own_trained: dict[str, float],
    own_untrained: dict[str, float],
) -> ProbeEvidence:
    """The record's probe metrics (``trained``, ``untrained``); where they give no gain (or no
    chance ratio), the report's own ridge-probe R2 per target (``own_*``) instead."""
    kinds = record_probe_kinds(trained)
    own = {k: "r2" for k in own_trained}
    gain = probe_gain(trained, untrained, kinds)
    source = "result.json probes, trained vs untrained"
    if gain is None:
        gain = probe_gain(own_trained, own_untrained, own)
        source = "report's ridge probe on encoded latents"
    ratio = mean_ratio(chance_ratios(trained, kinds))
    untrained_ratio = mean_ratio(chance_ratios(untrained, kinds))
    if ratio is None and not kinds:  # no probes in the record at all
        ratio = mean_ratio(chance_ratios(own_trained, own))
        untrained_ratio = mean_ratio(chance_ratios(own_untrained, own))
    return ProbeEvidence(gain, source, ratio, untrained_ratio)


def _blind(x: DiagnosisInputs, ratio: float) -> str:
    """The blind verdict's headline: which symptom, in numbers."""
    what = ", ".join(x.probe_targets) or "the probed state"
    head = f"Blind: the probes are at chance ({ratio:.2f}x the constant predictor's error"
    if x.untrained_chance_ratio is not None:
        head += f"; the untrained twin's: {x.untrained_chance_ratio:.2f}x"
    err = x.horizon_rel_error
    if err < LOW_REL_ERROR:
        head += (
            f") while the latent error is low ({err:.2g} of the latent variance): the encoder's "
            f"latents carry no {what}, and the predictor predicts something easy instead"
        )
    else:
        head += (
            f") and the rollout is no better than the mean latent (relative error {err:.3g}): "
            f"the encoder's latents carry no {what} and the predictor has not learnt either"
        )
    if x.temporal_ratio < LAZY_TEMPORAL_RATIO:
        head += f"; the latents barely change within a sequence (ratio {x.temporal_ratio:.3f})"
    return head + "."


def _chance_reason(x: DiagnosisInputs) -> str:
    if x.chance_ratio is None:
        return "probe error relative to the constant predictor: n/a (no chance metrics)"
    text = f"probe error relative to the constant predictor: {x.chance_ratio:.3g}x"
    if x.untrained_chance_ratio is not None:
        text += f" (untrained: {x.untrained_chance_ratio:.3g}x)"
    return text


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
        _chance_reason(x),
    ]
    if collapsed:
        head = "Collapsed: the encoder maps frames onto (nearly) one point or one line, so neither "
        head += "the probes nor a planner can read the state from it."
        return Diagnosis("collapsed", head, reasons)
    if x.chance_ratio is not None and x.chance_ratio >= BLIND_CHANCE_RATIO:
        return Diagnosis("blind", _blind(x, x.chance_ratio), reasons)
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
    if x.chance_ratio is not None:
        head += f" ({x.chance_ratio:.2f}x the constant predictor's)"
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
        "probe error / chance": float("nan") if x.chance_ratio is None else x.chance_ratio,
    }
