"""Headline rows of one leaderboard table: one per configuration, its seeds pooled.

A table holds the records of one task, task version + evaluation protocol and budget. Records
with the same model, regulariser, budget and config apart from the seed share a row: each main
metric is the mean ± sample std over their seeds (with n); the chance-normalised score is, per
run, the mean over the task's MSE probe splits of probe MSE / chance MSE (1.0 = chance); planning
success is pooled over seeds and episodes, with a 95 % Wilson interval. Reference rows come
apart: the untrained twins (pooled per architecture and seed) and the random and oracle planners.
Columns come from the metric declarations (``jepa_bench.record.metrics``); at most
``MAX_COLUMNS`` in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from jepa_bench.record.metrics import PLANNERS, chance_of, match, role_of, spread_of
from jepa_bench.record.schema import hash_config
from jepa_bench.record.verification import is_verified

MAX_COLUMNS = 12
FIXED = ("model", "regularizer", "params", "seeds", "verified")
MAX_MAINS_FIRST = 4  # main metrics kept before planning columns are dropped for room
Z95 = 1.959963984540054


@dataclass
class Cell:
    """One number over seeds: finite values or NaN (a run without the metric adds nothing)."""

    values: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        if not self.values:
            return None
        return math.nan if any(math.isnan(v) for v in self.values) else _mean(self.values)

    @property
    def std(self) -> float | None:
        if len(self.values) < 2 or any(math.isnan(v) for v in self.values):
            return None
        m = _mean(self.values)
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (len(self.values) - 1))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@dataclass
class Rate:
    """Successes out of trials, pooled over seeds and episodes; the 95 % Wilson interval."""

    successes: int = 0
    trials: int = 0

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.successes, self.trials) if self.trials else None


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (95 % by default)."""
    if n <= 0:
        raise ValueError(f"need at least one trial, got n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Row:
    """One headline row: a configuration's seeds, an untrained twin or a reference planner."""

    kind: Literal["trained", "untrained", "planner"]
    model: str
    regularizer: str
    params: int | None
    records: list[dict[str, Any]]  # the runs whose numbers it holds, in seed order
    metrics: dict[str, Cell] = field(default_factory=dict)
    score: Cell = field(default_factory=Cell)
    plans: dict[str, Rate] = field(default_factory=dict)  # case -> pooled success

    @property
    def seeds(self) -> int:
        return len(self.records)

    @property
    def verified(self) -> int:
        return sum(is_verified(r) for r in self.records)


@dataclass
class Layout:
    """The columns of one table: main metrics, whether it has a score, the planning cases."""

    mains: list[str]
    score: bool
    cases: list[str]

    @property
    def width(self) -> int:
        return len(FIXED) + len(self.mains) + int(self.score) + len(self.cases)


def value(metrics: dict[str, Any] | None, name: str) -> float | None:
    """A record metric's value (NaN when not computed); None when the record lacks it."""
    entry = (metrics or {}).get(name)
    if not isinstance(entry, dict):
        return None
    v = entry.get("value")
    return math.nan if v is None else float(v)


def _first_seen(records: list[dict[str, Any]], part: str = "metrics") -> list[str]:
    names: list[str] = []
    for rec in sorted(records, key=lambda r: r["run_id"]):
        names += [n for n in rec.get(part) or {} if n not in names]
    return names


def layout(records: list[dict[str, Any]]) -> Layout:
    """Main metrics present in most runs (first-seen order), the score, the planning cases."""
    names = _first_seen(records)
    count = {n: sum(n in r["metrics"] for r in records) for n in names}
    mains = [n for n in names if role_of(n) == "main" and 2 * count[n] > len(records)]
    cases = []
    for n in names:
        found = match(n)
        if found and found[0].role == "plan_success" and found[1]["case"] not in cases:
            cases.append(found[1]["case"])
    out = Layout(mains, any(chance_of(m) for m in mains), cases)
    while out.width > MAX_COLUMNS:
        if len(out.mains) > MAX_MAINS_FIRST:
            out.mains.pop()
        elif out.cases:
            out.cases.pop()
        elif len(out.mains) > 1:
            out.mains.pop()
        else:
            out.score = False
    return out


def run_score(metrics: dict[str, Any] | None, mains: list[str]) -> float | None:
    """Mean over the MSE mains of metric / its chance metric; None when any part is missing."""
    ratios = []
    for name in mains:
        chance = chance_of(name)
        if chance is None:
            continue
        v, c = value(metrics, name), value(metrics, chance)
        if v is None or c is None:
            return None
        ratios.append(v / c if c > 0 else math.nan)
    return _mean(ratios) if ratios else None


def counts(rec: dict[str, Any], part: str, policy: str, case: str) -> tuple[int, int] | None:
    """(successes, trials) of a policy's planning on a case in one record: the counts of the
    planning details when they hold them, else the success rate times the configured episodes
    (times the planning seeds); None when the record has no such success rate."""
    name = f"plan/{case}/success" if policy == "model" else f"plan/{policy}/{case}/success"
    rate = value(rec.get(part), name)
    if rate is None or math.isnan(rate):
        return None
    side = "untrained" if part == "untrained_metrics" else "trained"
    planning = ((rec.get("details") or {}).get(side) or {}).get("planning") or {}
    summary = ((planning.get("summary") or {}).get(policy) or {}).get(case) or {}
    trials, hits = summary.get("episodes"), summary.get("successes")
    if isinstance(trials, (int, float)) and isinstance(hits, (int, float)) and trials > 0:
        return int(round(hits)), int(round(trials))
    plan = ((rec.get("config") or {}).get("eval") or {}).get("plan") or {}
    n = plan.get("episodes")
    if not isinstance(n, int) or n <= 0:
        return None
    seeds = plan.get("seeds")
    n *= seeds if isinstance(seeds, int) and seeds > 0 else 1
    return int(round(rate * n)), n


def _fill(row: Row, part: str, lay: Layout, policy: str = "model") -> None:
    """The row's cells from its records' ``part`` (metrics or untrained_metrics)."""
    for rec in row.records:
        metrics = rec.get(part)
        for name in lay.mains:
            v = value(metrics, name)
            if v is not None:
                row.metrics.setdefault(name, Cell()).values.append(v)
        s = run_score(metrics, lay.mains) if lay.score else None
        if s is not None:
            row.score.values.append(s)
        for case in lay.cases:
            found = counts(rec, part, policy, case)
            if found is not None:
                rate = row.plans.setdefault(case, Rate())
                rate.successes += found[0]
                rate.trials += found[1]


def _reg(rec: dict[str, Any]) -> str:
    return rec["regularizer"].get("spec") or "default"


def _seeded(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per seed (the first by run id), in seed order."""
    by_seed: dict[int, dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: r["run_id"]):
        by_seed.setdefault(rec["seed"], rec)
    return [by_seed[s] for s in sorted(by_seed)]


def config_key(rec: dict[str, Any]) -> tuple[str, str, str, str]:
    """What makes runs the same configuration: model, regulariser, budget, config but seed."""
    config = {k: v for k, v in (rec.get("config") or {}).items() if k != "seed"}
    return (rec["model"]["name"], _reg(rec), rec["budget"], hash_config(config))


def _sort_key(row: Row, lay: Layout, higher: bool) -> tuple[int, float, str, str]:
    cell = row.metrics.get(lay.mains[0]) if lay.mains else None
    m = cell.mean if cell else None
    if m is None or math.isnan(m):
        return (1, 0.0, row.model, row.regularizer)
    return (0, -m if higher else m, row.model, row.regularizer)


def model_label(rec: dict[str, Any]) -> str:
    """The model's name, with the model arguments its config set: ``lewm_cpu (pool=mean)``.

    Two configurations of one model differ on the leaderboard by what their runs passed to it.
    """
    kwargs = (rec.get("config") or {}).get("model_kwargs") or {}
    name = str(rec["model"]["name"])
    if not kwargs:
        return name
    return f"{name} ({', '.join(f'{k}={v}' for k, v in sorted(kwargs.items()))})"


def trained_rows(records: list[dict[str, Any]], lay: Layout) -> list[Row]:
    """One row per configuration, sorted by the first main metric (declared direction)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(config_key(rec), []).append(rec)
    rows = []
    for recs in groups.values():
        recs = sorted(recs, key=lambda r: (r["seed"], r["run_id"]))
        first = recs[0]
        row = Row("trained", model_label(first), _reg(first),
                  first["model"]["params"].get("total"), recs)  # fmt: skip
        _fill(row, "metrics", lay)
        rows.append(row)
    found = match(lay.mains[0]) if lay.mains else None
    higher = bool(found and found[0].higher_is_better)
    return sorted(rows, key=lambda r: _sort_key(r, lay, higher))


def untrained_rows(records: list[dict[str, Any]], lay: Layout) -> list[Row]:
    """One row per untrained architecture (model, parameter count, evaluation settings)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for rec in records:
        if not rec.get("untrained_metrics"):
            continue
        config = rec.get("config") or {}
        settings = {"eval": config.get("eval"), "model_kwargs": config.get("model_kwargs")}
        key = (rec["model"]["name"], rec["model"]["params"].get("total"), hash_config(settings))
        groups.setdefault(key, []).append(rec)
    rows = []
    for (model, params, _), recs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        regs = ", ".join(sorted({_reg(r) for r in recs}))
        row = Row("untrained", f"{model} (untrained)", f"twin of {regs}", params, _seeded(recs))
        _fill(row, "untrained_metrics", lay)
        rows.append(row)
    return rows


def planner_rows(records: list[dict[str, Any]], lay: Layout) -> list[Row]:
    """One row per reference planner and planning setting, pooled over distinct seeds."""
    rows = []
    for planner in PLANNERS:
        groups: dict[str, list[dict[str, Any]]] = {}
        for rec in records:
            names = [f"plan/{planner}/{case}/success" for case in lay.cases]
            if all(value(rec["metrics"], n) is None for n in names):
                continue
            plan = dict(((rec.get("config") or {}).get("eval") or {}).get("plan") or {})
            plan.pop("max_minutes", None)  # a wall-clock guard, not a setting of the planners
            groups.setdefault(hash_config(plan), []).append(rec)
        for i, (_, recs) in enumerate(sorted(groups.items())):
            name = f"{planner} planner" + (f" (setting {i + 1})" if len(groups) > 1 else "")
            row = Row("planner", name, "-", None, _seeded(recs))
            _fill(row, "metrics", Layout([], False, lay.cases), policy=planner)
            rows.append(row)
    return rows


@dataclass
class Table:
    """One headline table: its identity, columns, rows and reference rows."""

    task: str
    version: str
    budget: str
    layout: Layout
    rows: list[Row]
    references: list[Row]
    records: list[dict[str, Any]]

    @property
    def stem(self) -> str:
        return f"{self.task}__{self.version}__{self.budget}"


def prober_spread(table: Table) -> dict[int, dict[str, Cell]]:
    """Per trained row (by its index in ``table.rows``) the spread over prober seeds of each main
    metric that has one: its values over the row's runs (``Cell``; the mean is a single run's
    typical prober noise). Empty when no record reports spreads."""
    out: dict[int, dict[str, Cell]] = {}
    for i, row in enumerate(table.rows):
        for name in table.layout.mains:
            spread = spread_of(name)
            for rec in row.records:
                v = value(rec.get("metrics"), spread) if spread else None
                if v is not None and not math.isnan(v):
                    out.setdefault(i, {}).setdefault(name, Cell()).values.append(v)
    return out


def build_table(task: str, version: str, budget: str, records: list[dict[str, Any]]) -> Table:
    """The headline table of one (task, version + protocol, budget)."""
    lay = layout(records)
    refs = untrained_rows(records, lay) + planner_rows(records, lay)
    return Table(task, version, budget, lay, trained_rows(records, lay), refs, records)
