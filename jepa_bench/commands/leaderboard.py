"""``jepa-bench leaderboard``: regenerate (or check) the tables and index.html from the records."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from jepa_bench.commands.options import InputError
from jepa_bench.leaderboard.tables import (
    LeaderboardWarning,
    add_record,
    check_tables,
    generate_tables,
)
from jepa_bench.record.io import RecordError


@click.command("leaderboard")
@click.option(
    "--dir",
    "lb_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="leaderboard",
    show_default=True,
    help="Leaderboard directory (records under records/<task>/<run_id>.json).",
)
@click.option(
    "--add",
    "to_add",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Copy this result record in first (repeatable); one with the same run id is replaced.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 when the tables on disk differ from what the records generate.",
)
def leaderboard(lb_dir: Path, to_add: tuple[Path, ...], check: bool) -> None:
    """Regenerate the leaderboard from its records: one headline table (markdown + CSV, at most
    12 columns) and a details CSV per task, task version + evaluation protocol and budget,
    README.md, index.html (one sortable page with the params-vs-score figures) and the figures.

    A verified record is never replaced by an unverified one (--add refuses it)."""
    if check and to_add:
        raise click.UsageError("--check writes nothing; use it without --add")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LeaderboardWarning)
        try:
            for path in to_add:
                dest = add_record(lb_dir, path)
                click.echo(f"added {dest}")
            if check:
                problems = check_tables(lb_dir)
            else:
                written = generate_tables(lb_dir)
        except (FileNotFoundError, RecordError) as e:  # a missing folder or a bad record file
            raise InputError(str(e)) from e
        except FileExistsError as e:
            raise click.ClickException(str(e)) from e
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if check:
        if problems:
            for line in problems:
                click.echo(line, err=True)
            fix = f"jepa-bench leaderboard --dir {lb_dir}"
            click.echo(f"the tables in {lb_dir} are out of date: run `{fix}`", err=True)
            raise SystemExit(1)
        click.echo(f"the tables in {lb_dir} are up to date")
        return
    tables = [p for p in written if p.suffix == ".md" and p.name != "README.md"]
    click.echo(f"wrote {len(tables)} table(s), README.md and index.html in {lb_dir}")
