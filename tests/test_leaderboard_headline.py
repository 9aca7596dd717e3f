"""Headline tables from synthetic records: seeds pooled with mean ± std and n, the chance-
normalised score, planning intervals, reference rows, at most 12 columns, declared sort keys."""

from __future__ import annotations

import copy
import csv
import io
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jepa_bench.leaderboard import LeaderboardWarning, render_tables
from jepa_bench.leaderboard.headline import MAX_COLUMNS, build_table, wilson
from jepa_bench.leaderboard.render import header
from jepa_bench.record import load_record

ARTIFACTS = Path(__file__).parent / "artifacts"
STEM = "wall_door__1__default"


def base() -> dict:
    return load_record(ARTIFACTS / "records" / "record_a.json")


def run(seed: int, reg: str = "vicreg", **metrics: float | None) -> dict:
    """A record of convnext_mlp with ``reg`` and ``seed``; ``metrics`` (``/`` written ``__``)."""
    rec = copy.deepcopy(base())
    rec["run_id"] = f"r-{reg}-s{seed}"
    rec["seed"] = rec["config"]["seed"] = seed
    rec["regularizer"]["spec"] = rec["config"]["reg"] = reg
    for key, v in metrics.items():
        name = key.replace("__", "/")
        hib = name.endswith("/success") or name.endswith("/r2")
        rec["metrics"][name] = {"value": math.nan if v is None else v, "higher_is_better": hib}
    return rec


def table_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def md_rows(md: str) -> list[list[str]]:
    """Cells of every markdown table row (header and alignment rows included)."""
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in md.splitlines()
            if line.startswith("| ")]  # fmt: skip


def test_seeds_pool_into_one_row_with_mean_std_and_n():
    """Three seeds of one configuration make one row: mean ± sample std over seeds, n = 3;
    another regulariser is another row."""
    recs = [run(s, probe__normal=v) for s, v in ((0, 9.0), (1, 10.0), (2, 11.0))]
    recs.append(run(0, "sigreg", probe__normal=30.0))
    files = render_tables(recs)
    rows = [r for r in table_rows(files[f"{STEM}.csv"]) if r["kind"] == "trained"]
    assert [(r["regularizer"], r["seeds"]) for r in rows] == [("vicreg", "3"), ("sigreg", "1")]
    assert float(rows[0]["probe/normal"]) == 10.0 and float(rows[0]["probe/normal/std"]) == 1.0
    assert rows[1]["probe/normal/std"] == ""  # one seed: no spread
    cells = md_rows(files[f"{STEM}.md"])
    vicreg = next(c for c in cells if c[1] == "vicreg")
    assert vicreg[3] == "3" and vicreg[4] == "10 ± 1"
    assert next(c for c in cells if c[1] == "sigreg")[4] == "30"
    assert len(table_rows(files[f"{STEM}.details.csv"])) == 4  # every run in the details


def test_model_arguments_name_their_own_row():
    """Runs of one model with other model arguments are another row, labelled with them."""
    plain = [run(s, probe__normal=10.0) for s in (0, 1)]
    tuned = [run(s, probe__normal=5.0) for s in (0, 1)]
    for rec in tuned:
        rec["run_id"] += "-tuned"
        rec["config"]["model_kwargs"] = {"residual": True, "blur": 3}
    rows = [r for r in table_rows(render_tables(plain + tuned)[f"{STEM}.csv"])
            if r["kind"] == "trained"]  # fmt: skip
    assert [(r["model"], r["seeds"]) for r in rows] == [
        ("convnext_mlp (blur=3, residual=True)", "2"),
        ("convnext_mlp", "2"),
    ]


def test_a_seed_without_the_metric_is_left_out_of_its_mean():
    """A run lacking a metric adds nothing to that cell; a NaN value makes the mean NaN."""
    a, b, c = (run(s, probe__normal=v) for s, v in ((0, 9.0), (1, 11.0), (2, 10.0)))
    del b["metrics"]["probe/wall"]
    (row,) = build_table("wall_door", "1", "default", [a, b, c]).rows
    assert row.metrics["probe/normal"].n == 3 and row.metrics["probe/wall"].n == 2
    assert row.metrics["probe/normal"].mean == 10.0
    d = run(3, probe__normal=None)
    (row,) = build_table("wall_door", "1", "default", [a, b, c, d]).rows
    assert math.isnan(row.metrics["probe/normal"].mean) and row.metrics["probe/normal"].std is None


def test_chance_normalised_score_is_the_mean_ratio_over_splits():
    """Score = mean over the MSE splits of probe / chance (1.0 = chance); '-' without chance."""
    scored = run(0, probe__normal=10.0, probe__wall=20.0, chance__normal=200.0, chance__wall=100.0)
    old = run(0, "sigreg", probe__normal=5.0, probe__wall=5.0)
    table = build_table("wall_door", "1", "default", [scored, old])
    by_reg = {row.regularizer: row for row in table.rows}
    assert by_reg["vicreg"].score.mean == pytest.approx((10 / 200 + 20 / 100) / 2)
    assert by_reg["sigreg"].score.mean is None
    md = render_tables([scored, old])[f"{STEM}.md"]
    assert "| 0.125 |" in md and next(c for c in md_rows(md) if c[1] == "sigreg")[6] == "-"


@given(st.integers(0, 200), st.integers(1, 200))
def test_wilson_interval_contains_the_rate_and_stays_in_0_1(k, n):
    """The Wilson interval holds the observed rate, lies in [0, 1] and narrows with n."""
    k = min(k, n)
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n + 1e-12 and k / n - 1e-12 <= hi <= 1.0
    lo4, hi4 = wilson(4 * k, 4 * n)
    assert hi4 - lo4 <= hi - lo + 1e-12


def test_wilson_known_values():
    """3 of 10 gives the textbook 95 % interval [0.108, 0.603]; 0 of n starts at 0."""
    assert wilson(3, 10) == pytest.approx((0.10779, 0.60322), abs=1e-5)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)


def test_planning_success_pools_seeds_and_episodes_with_an_interval():
    """Success rates 0.3 and 0.5 over 10 episodes each pool to 8 of 20: 40 % [22, 61]."""
    recs = []
    for seed, rate in ((0, 0.3), (1, 0.5)):
        rec = run(seed, plan__same_room__success=rate)
        rec["config"]["eval"] = {"plan": {"episodes": 10}}
        recs.append(rec)
    (row,) = build_table("wall_door", "1", "default", recs).rows
    assert (row.plans["same_room"].successes, row.plans["same_room"].trials) == (8, 20)
    md = render_tables(recs)[f"{STEM}.md"]
    assert "40% [22, 61]" in md


def test_reference_planners_and_untrained_twins_are_rows_of_their_own():
    """Random and oracle numbers are reference rows, not columns of every row; seeds dedup."""
    recs = []
    for seed, reg in ((0, "vicreg"), (0, "sigreg"), (1, "vicreg")):
        rec = run(seed, reg, plan__same_room__success=0.5, plan__random__same_room__success=0.1,
                  plan__oracle__same_room__success=1.0)  # fmt: skip
        rec["config"]["eval"] = {"plan": {"episodes": 10}}
        recs.append(rec)
    table = build_table("wall_door", "1", "default", recs)
    assert [c.header for c in header(table)].count("plan same_room ↑") == 1
    assert not any("random" in c.header or "oracle" in c.header for c in header(table))
    kinds = [(r.kind, r.model, r.seeds) for r in table.references]
    assert ("planner", "random planner", 2) in kinds and ("planner", "oracle planner", 2) in kinds
    assert ("untrained", "convnext_mlp (untrained)", 2) in kinds  # one twin per seed
    random = next(r for r in table.references if r.model == "random planner")
    assert (random.plans["same_room"].successes, random.plans["same_room"].trials) == (2, 20)
    md = render_tables(recs)[f"{STEM}.md"]
    assert "random planner" in md.split("## References")[1]


def test_headline_tables_have_at_most_12_columns():
    """Many probe splits and planning cases still give at most 12 columns; the rest go to the
    details CSV."""
    extra = {f"probe__split{i}": float(i) for i in range(9)}
    extra.update({f"plan__case{i}__success": 0.5 for i in range(4)})
    extra.update({f"chance__split{i}": 100.0 for i in range(9)})
    rec = run(0, **extra)
    table = build_table("wall_door", "1", "default", [rec])
    assert table.layout.width == len(header(table)) <= MAX_COLUMNS
    files = render_tables([rec])
    widths = {len(c) for c in md_rows(files[f"{STEM}.md"])}
    assert max(widths) <= MAX_COLUMNS
    details = table_rows(files[f"{STEM}.details.csv"])[0]
    assert all(f"probe/split{i}" in details for i in range(9))


def test_made_up_or_wall_clock_metrics_never_sort_or_blank_rows():
    """An undeclared metric (a 'time' name, or one only one run has) never becomes a column or
    the sort key; other rows keep their values; the leaderboard warns about it."""
    fake = run(0, "sigreg")
    fake["metrics"] = {"probe/normal_time_s": {"value": 0.001, "higher_is_better": False},
                       "plan/time_per_call_ms": {"value": 1.0, "higher_is_better": False},
                       **fake["metrics"]}  # fmt: skip
    honest = [run(1, probe__normal=3.0), run(2, "none", probe__normal=7.0)]
    table = build_table("wall_door", "1", "default", [fake, *honest])
    assert table.layout.mains[0] == "probe/normal"
    assert "probe/normal_time_s" not in table.layout.mains
    assert all(r.metrics["probe/normal"].mean is not None for r in table.rows)
    assert [r.regularizer for r in table.rows] == ["vicreg", "none", "sigreg"]  # 3 < 7 < 12.75
    files = render_tables([fake, *honest])
    assert "time" not in files[f"{STEM}.md"] and "normal_time_s" not in files[f"{STEM}.csv"]
    assert "probe/normal_time_s" not in files[f"{STEM}.details.csv"]


def test_unknown_metrics_are_warned_about(tmp_path):
    """Generating tables names a record's undeclared metric in a warning."""
    from jepa_bench.leaderboard import add_record, generate_tables

    rec = run(0)
    rec["metrics"]["probe/x/speed_ms"] = {"value": 1.0, "higher_is_better": False}
    add_record(tmp_path, rec)
    with pytest.warns(LeaderboardWarning, match="probe/x/speed_ms: unknown metric"):
        generate_tables(tmp_path)


def test_verified_mark_counts_the_verified_seeds(monkeypatch):
    """'yes' when every seed is verified, 'k/n' for some, 'no' for none."""
    import jepa_bench.leaderboard.headline as headline
    from jepa_bench.leaderboard.render import verified_text

    recs = [run(s, probe__normal=1.0) for s in range(3)]
    (row,) = build_table("wall_door", "1", "default", recs).rows
    assert verified_text(row) == "no"
    checked = {recs[0]["run_id"], recs[2]["run_id"]}
    monkeypatch.setattr(headline, "is_verified", lambda r: r["run_id"] in checked)
    assert verified_text(row) == "2/3"
    checked.add(recs[1]["run_id"])
    assert verified_text(row) == "yes"


def test_prober_seed_spread_is_a_table_of_its_own():
    """Records reporting probe_seed_std get a spread table: per configuration, the mean of each
    main metric's prober-seed std over its runs; records without spreads get none."""
    recs = [
        run(s, probe__normal=9.0 + s, probe_seed_std__normal=sd)
        for s, sd in ((0, 0.2), (1, 0.4), (2, 0.6))
    ]
    files = render_tables(recs)
    md = files[f"{STEM}.md"]
    assert "## Prober-seed spread" in md and "Prober-seed spread" in files["index.html"]
    spread = md.split("## Prober-seed spread")[1]
    (row,) = [r for r in md_rows(spread) if r[0] == "convnext_mlp"]
    assert row[1:4] == ["vicreg", "3", "0.4"]
    plain = render_tables([run(s, probe__normal=9.0 + s) for s in range(2)])[f"{STEM}.md"]
    assert "Prober-seed spread" not in plain
