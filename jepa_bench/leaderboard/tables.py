"""Leaderboard files, generated from result records and never edited by hand.

Layout of a leaderboard directory::

    records/<task>/<run_id>.json        one result record per run (see docs/results.md)
    checkpoints/<task>/<run_id>.safetensors   its weights, when small enough for git
    reports/<task>/<run_id>/report.html optional latent-space report of a run (linked)
    <task>__<version>__<budget>.md      headline table (at most 12 columns), generated
    <task>__<version>__<budget>.csv     the same rows with full-precision numbers, generated
    <task>__<version>__<budget>.details.csv   every metric of every run, generated
    README.md, index.html               index and the whole leaderboard as one page, generated
    plots/<task>__<version>__<budget>_params_vs_score.svg   parameters vs score, generated

``<version>`` is ``table_version(record)``: the task version, followed by ``+<eval_protocol>`` for
records scored under a later evaluation protocol than the first, so numbers of different task
versions, protocols or budgets never share a table (``headline.build_table`` makes the rows).
Invalid records are skipped with a ``LeaderboardWarning`` naming the file; metrics without a
declaration (``jepa_bench.record.metrics``) are ignored with one.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from jepa_bench.leaderboard import render
from jepa_bench.leaderboard.headline import Table, build_table
from jepa_bench.record.io import RecordError, atomic_write_text, dumps, load_record, write_record
from jepa_bench.record.metrics import metric_problems
from jepa_bench.record.schema import LEGACY_EVAL_PROTOCOL, eval_protocol_of, validate_record
from jepa_bench.record.verification import is_verified

RECORDS = "records"
REPORTS = "reports"
HTML_FILE = "index.html"
NOTE = render.NOTE
TABLE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*__[A-Za-z0-9][A-Za-z0-9._+-]*\.(md|csv)$")


class LeaderboardWarning(UserWarning):
    """A record file that was skipped, or a part of one that was ignored."""


class VerifiedRecordError(FileExistsError):
    """An unverified record that would replace a verified one."""


def table_version(record: dict[str, Any]) -> str:
    """The version a record's table is named by: task version [+ evaluation protocol]."""
    version, protocol = record["task"]["version"], eval_protocol_of(record)
    return version if protocol == LEGACY_EVAL_PROTOCOL else f"{version}+{protocol}"


def record_path(leaderboard_dir: str | Path, record: dict[str, Any]) -> Path:
    """Where a record lives: ``records/<task>/<run_id>.json``."""
    return Path(leaderboard_dir) / RECORDS / record["task"]["name"] / f"{record['run_id']}.json"


def report_path(leaderboard_dir: str | Path, record: dict[str, Any]) -> Path:
    """Where a run's report may live: ``reports/<task>/<run_id>/report.html``."""
    folder = Path(leaderboard_dir) / REPORTS / record["task"]["name"] / record["run_id"]
    return folder / "report.html"


def add_record(
    leaderboard_dir: str | Path,
    record: dict[str, Any] | str | Path,
    overwrite: bool = True,
    *,
    unverify: bool = False,
) -> Path:
    """Copy a record (a dict or a record file) into the leaderboard, atomically; returns its path.

    A record with the same run id (a re-run of the same configuration) is replaced; with
    ``overwrite=False`` replacing a different record is a ``FileExistsError`` instead. A verified
    record is never replaced by an unverified one (``VerifiedRecordError``) unless ``unverify``
    says so (``verify`` marking a failed re-check).
    """
    if not isinstance(record, dict):
        record = load_record(record)
    problems = validate_record(record)
    if problems:
        raise RecordError("cannot add an invalid record:\n  - " + "\n  - ".join(problems))
    dest = record_path(leaderboard_dir, record)
    if dest.exists():
        text = dest.read_text(encoding="utf-8")
        if not overwrite and text != dumps(record):
            raise FileExistsError(f"{dest} already holds a different record with this run id")
        try:
            existing_verified = is_verified(load_record(dest))
        except RecordError:
            existing_verified = False
        if existing_verified and not is_verified(record) and not unverify:
            raise VerifiedRecordError(
                f"{dest} holds a verified record; an unverified one never replaces it (verify "
                "the new record, or remove the old one by hand if it is wrong)"
            )
    write_record(dest, record)
    return dest


def load_records(leaderboard_dir: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every valid record under ``records/``, and one message per invalid or misplaced file."""
    root = Path(leaderboard_dir) / RECORDS
    out, skipped = [], []
    for path in sorted(root.glob("*/*.json")):
        try:
            record = load_record(path)
        except (RecordError, OSError) as e:
            skipped.append(f"skipping {path}: {e}")
            continue
        if path.parent.name != record["task"]["name"] or path.stem != record["run_id"]:
            skipped.append(
                f"skipping {path}: a record of task {record['task']['name']!r} with run id "
                f"{record['run_id']!r} belongs at {record_path(leaderboard_dir, record)}"
            )
            continue
        out.append(record)
    return out, skipped


def build_tables(records: list[dict[str, Any]]) -> list[Table]:
    """One headline table per (task, version + protocol, budget), in name order."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rec in records:
        key = (rec["task"]["name"], table_version(rec), rec["budget"])
        groups.setdefault(key, []).append(rec)
    return [build_table(*key, recs) for key, recs in sorted(groups.items())]


def render_tables(
    records: list[dict[str, Any]],
    skipped: int = 0,
    svgs: dict[str, str] | None = None,
    reports: set[str] | None = None,
) -> dict[str, str]:
    """File name -> content of every generated text file (tables, README.md, index.html).

    ``svgs``: table stem -> plot SVG to inline in index.html (None: no figures); ``reports``:
    run ids whose report exists (``report_path``), linked from the page.
    """
    from jepa_bench.leaderboard.html import render_html

    tables = build_tables(records)
    files: dict[str, str] = {}
    for t in tables:
        files[f"{t.stem}.md"] = render.markdown(t)
        files[f"{t.stem}.csv"] = render.headline_csv(t)
        files[f"{t.stem}.details.csv"] = render.details_csv(t)
    files["README.md"] = render.index(tables, skipped)
    files[HTML_FILE] = render_html(tables, svgs or {}, reports or set(), skipped)
    return files


def _reports(root: Path, records: list[dict[str, Any]]) -> set[str]:
    return {r["run_id"] for r in records if report_path(root, r).is_file()}


def _load(leaderboard_dir: Path) -> tuple[list[dict[str, Any]], int]:
    if not leaderboard_dir.is_dir():
        raise FileNotFoundError(f"no leaderboard directory at {leaderboard_dir}")
    records, skipped = load_records(leaderboard_dir)
    for message in skipped:
        warnings.warn(message, LeaderboardWarning, stacklevel=3)
    for rec in records:
        for problem in metric_problems(rec):
            warnings.warn(f"{rec['run_id']}: ignored: {problem}", LeaderboardWarning, stacklevel=3)
    return records, len(skipped)


def _stale(leaderboard_dir: Path, files: dict[str, str]) -> list[Path]:
    return sorted(
        p for p in leaderboard_dir.iterdir() if TABLE_FILE.match(p.name) and p.name not in files
    )


_FIGURE = re.compile(r'(<figure class="plot"[^>]*>).*?(</figure>)', re.S)


def _without_figures(html: str) -> str:
    """index.html without its inline SVGs (they depend on the matplotlib version)."""
    return _FIGURE.sub(r"\1\2", html)


def generate_tables(leaderboard_dir: str | Path) -> list[Path]:
    """Write every generated file (only when changed; tables whose records are gone removed)."""
    from jepa_bench.leaderboard.plot import write_plots  # imports matplotlib when it draws

    root = Path(leaderboard_dir)
    records, skipped = _load(root)
    plots = write_plots(root, build_tables(records))
    svgs = {stem: path.read_text(encoding="utf-8") for stem, path in plots.items()}
    files = render_tables(records, skipped, svgs, _reports(root, records))
    for path in _stale(root, files):
        path.unlink()
    out = []
    for name, text in files.items():
        path = root / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        out.append(path)
    return out + list(plots.values())


def check_tables(leaderboard_dir: str | Path) -> list[str]:
    """Differences between the files on disk and what the records generate (empty: up to date).

    The figures are not compared (their SVG depends on the matplotlib version); index.html is
    compared without them.
    """
    root = Path(leaderboard_dir)
    records, skipped = _load(root)
    files = render_tables(records, skipped, reports=_reports(root, records))
    problems = [f"stale: {p.name} (no records for it)" for p in _stale(root, files)]
    for name, text in files.items():
        path = root / name
        if not path.exists():
            problems.append(f"missing: {name}")
            continue
        on_disk = path.read_text(encoding="utf-8")
        if name == HTML_FILE:
            on_disk, text = _without_figures(on_disk), _without_figures(text)
        if on_disk != text:
            problems.append(f"out of date: {name}")
    return problems
