"""Every metric a record may carry, declared once: name pattern, direction, format, label, role.

The evaluator's metric names (docs/results.md) are matched against ``METRICS`` in order; the first
declaration whose pattern matches the whole name describes it. Every writer (markdown and CSV
tables, the HTML page, the plot) reads direction, format and label from here, ``submit`` and
``verify`` refuse a name no declaration matches (``metric_problems``), and the tables sort only
by declared ``main`` metrics, so a made-up or wall-clock metric never becomes a sort key.

Roles: ``main`` (the task's headline probe metrics), ``chance`` (the constant predictor's error on
a split, for the chance-normalised score), ``plan_success`` (the model's planning success per
case), ``plan_reference`` (the random and oracle planners' numbers, rows of their own),
``detail`` (everything else: the details CSV only). ``compared=False`` marks wall-clock metrics:
reported, never compared by ``verify``. ``optional=True`` marks metrics the evaluator added after
records of its protocol existed: a record may lack them, and then they are not compared.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Literal

Role = Literal["main", "chance", "plan_success", "plan_reference", "detail"]

# One name segment (a split, target or case name). A segment that reads like a wall-clock
# measurement ("time" in it, or ending in _s / _ms) is never a split or target: wall-clock metrics
# are only the ones declared as such below.
SEG = r"(?![A-Za-z0-9_]*time)[A-Za-z0-9_]+(?<!_s)(?<!_ms)"
PLANNERS = ("random", "oracle")


@dataclass(frozen=True)
class MetricSpec:
    """One declaration; ``label`` may use the pattern's named groups (``{split}``)."""

    pattern: str
    higher_is_better: bool
    fmt: str  # a format spec for one value, e.g. ".3g"
    label: str
    role: Role = "detail"
    unit: str = ""
    compared: bool = True  # False: wall-clock, never compared by verify
    optional: bool = False  # True: records made before it existed may lack it
    chance: str | None = None  # the name of its chance metric (groups filled in), if it has one

    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _probe(leaf: str) -> str:  # probe/<target>/<leaf> or probe/<split>/<target>/<leaf>
    return rf"(?:(?P<split>{SEG})/)?(?P<target>{SEG})/{leaf}"


# success rates beside ``success``: its Wilson bounds and the loose-radius rate with its bounds
_RATES = "success_lo|success_hi|success_loose|success_loose_lo|success_loose_hi"
_CASE = rf"(?!(?:{'|'.join(PLANNERS)})/)(?P<case>{SEG})"
_REF = rf"(?P<planner>{'|'.join(PLANNERS)})/(?P<case>{SEG})"

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        rf"probe/(?P<split>{SEG})",
        False,
        ".3g",
        "{split} MSE",
        "main",
        "px²",
        chance="chance/{split}",
    ),  # fmt: skip
    MetricSpec("probe/" + _probe("r2"), True, ".3f", "{target} R²", "main"),
    # the 95% bootstrap interval of that R² over the split's episodes (evaluate.ridge_cv)
    MetricSpec("probe/" + _probe("r2_(?P<bound>lo|hi)"), True, ".3f", "{target} R² {bound}"),
    MetricSpec("probe/" + _probe("mse"), False, ".4g", "{target} MSE"),
    MetricSpec(rf"probe_seed_std/(?P<split>{SEG})", False, ".3g", "{split} prober std", unit="px²"),
    MetricSpec("probe_seed_std/" + _probe("(?:r2|mse)"), False, ".3g", "{target} prober std"),
    MetricSpec(
        rf"chance/(?P<split>{SEG})",
        False,
        ".4g",
        "{split} chance MSE",
        "chance",
        "px²",
        optional=True,
    ),  # fmt: skip
    MetricSpec(r"latent_error/(?P<at>mean|final)", False, ".4g", "latent error ({at})"),
    MetricSpec(r"latent_error_rel/(?P<at>mean|final)", False, ".4g", "rel. latent error ({at})"),
    MetricSpec(r"collapse/(?P<stat>std_min|std_mean|effective_rank)", True, ".4g", "{stat}"),
    MetricSpec(r"collapse/top_pc_share", False, ".3f", "top PC share"),
    MetricSpec(r"collapse/collapsed", False, ".0f", "collapsed"),
    MetricSpec(rf"plan/{_CASE}/success", True, ".0%", "plan {case}", "plan_success"),
    MetricSpec(
        rf"plan/{_CASE}/(?P<what>{_RATES}|success_final|progress)", True, ".4g", "{case} {what}"
    ),  # fmt: skip
    MetricSpec(
        rf"plan/{_CASE}/(?P<what>final_dist|steps_to_success(?:_loose)?)",
        False,
        ".4g",
        "{case} {what}",
    ),  # fmt: skip
    MetricSpec(
        rf"plan/{_REF}/(?P<what>success|{_RATES}|progress)",
        True,
        ".4g",
        "{planner} {case} {what}",
        "plan_reference",
    ),  # fmt: skip
    MetricSpec(
        rf"plan/{_REF}/(?P<what>final_dist)",
        False,
        ".4g",
        "{planner} {case} {what}",
        "plan_reference",
    ),  # fmt: skip
    MetricSpec(
        r"plan/(?:oracle/)?time_per_call_ms",
        False,
        ".4g",
        "ms per planning call",
        unit="ms",
        compared=False,
    ),  # fmt: skip
)


@lru_cache(maxsize=4096)
def match(name: str) -> tuple[MetricSpec, dict[str, str]] | None:
    """The declaration of ``name`` and its named groups; None for an undeclared name."""
    for spec in METRICS:
        m = spec.regex().fullmatch(name)
        if m is not None:
            return spec, {k: v for k, v in m.groupdict().items() if v is not None}
    return None


def spec_of(name: str) -> MetricSpec | None:
    """The declaration of ``name`` (None: undeclared)."""
    found = match(name)
    return found[0] if found else None


def is_declared(name: str) -> bool:
    return match(name) is not None


def is_compared(name: str) -> bool:
    """Whether ``verify`` recomputes and compares it: every declared metric but wall-clock ones
    (an undeclared name counts as compared, so it can never pass unchecked)."""
    spec = spec_of(name)
    return spec is None or spec.compared


def role_of(name: str) -> Role | None:
    spec = spec_of(name)
    return spec.role if spec else None


def label(name: str) -> str:
    """A short human label (``normal MSE``, ``action R²``); the name itself when undeclared."""
    found = match(name)
    if found is None:
        return name
    spec, groups = found
    try:
        text = spec.label.format_map(_Default(groups))
    except (KeyError, ValueError):
        return name
    split = groups.get("split")
    if split and "{split}" not in spec.label:
        text = f"{split} {text}"
    return " ".join(text.split())


class _Default(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


SPREAD_PREFIX = "probe_seed_std/"  # + the metric name after "probe/"


def spread_of(name: str) -> str | None:
    """The prober-seed spread metric of a probe metric (``probe/x`` -> ``probe_seed_std/x``);
    None for other metrics."""
    return SPREAD_PREFIX + name.removeprefix("probe/") if name.startswith("probe/") else None


def chance_of(name: str) -> str | None:
    """The chance metric a metric is normalised by (``probe/normal`` -> ``chance/normal``)."""
    found = match(name)
    if found is None or found[0].chance is None:
        return None
    return found[0].chance.format_map(_Default(found[1]))


def arrow(name: str) -> str:
    """↑ for higher-is-better, ↓ for lower (empty when undeclared)."""
    spec = spec_of(name)
    return "" if spec is None else ("↑" if spec.higher_is_better else "↓")


def format_value(name: str, value: float | None) -> str:
    """One value in its declared format; ``-`` for a missing value, ``nan`` for NaN."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    spec = spec_of(name)
    return format(float(value), spec.fmt if spec else ".4g")


def unknown_metrics(names: Iterable[str]) -> list[str]:
    """The names no declaration matches, in the order given."""
    return [n for n in names if not is_declared(n)]


def metric_problems(record: Mapping[str, Any]) -> list[str]:
    """Undeclared metric names and directions that disagree with the declaration."""
    out = []
    for part in ("metrics", "untrained_metrics"):
        metrics = record.get(part) or {}
        for name, entry in metrics.items():
            spec = spec_of(name)
            if spec is None:
                out.append(
                    f"{part}.{name}: unknown metric (no declaration in jepa_bench.record.metrics "
                    "matches it; the evaluator never writes it)"
                )
            elif isinstance(entry, Mapping) and entry.get("higher_is_better") != (
                spec.higher_is_better
            ):
                out.append(
                    f"{part}.{name}: higher_is_better is {entry.get('higher_is_better')!r} but "
                    f"the metric is declared {spec.higher_is_better!r}"
                )
    return out
