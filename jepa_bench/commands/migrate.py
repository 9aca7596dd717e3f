"""``jepa-bench migrate``: re-key records and run directories under today's config hash."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("migrate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def migrate(paths: tuple[Path, ...]) -> None:
    """Re-key leaderboard folders and run directories made before one-step config resolution.

    Each record's config is resolved again; if any setting it had would change, nothing is
    written and the command fails. Otherwise the record gets the full resolved config, one hash
    for its run id and config_hash, and details.migration naming the old ones; a leaderboard's
    files are renamed and its tables regenerated, a run directory is renamed. Migrated records
    are unverified: verify them again (`jepa-bench verify RECORD`).

    \b
    Examples:
      jepa-bench migrate leaderboard
      jepa-bench migrate runs/wall_door__convnext_mlp__default__s0__default__772d8fbc40f7
    """
    from jepa_bench.config import ConfigError
    from jepa_bench.leaderboard.tables import RECORDS
    from jepa_bench.submit.migrate import MigrationError, migrate_leaderboard, migrate_run_dir

    for path in paths:
        try:
            if (path / RECORDS).is_dir():
                for m in migrate_leaderboard(path):
                    how = "re-keyed" if m.changed else "already current"
                    click.echo(f"{path}: {m.old_run_id} -> {m.new_run_id} ({how})")
            else:
                m = migrate_run_dir(path)
                click.echo(f"{path} -> {m.path}" if m.changed else f"{path}: already current")
        except (MigrationError, ConfigError) as e:
            raise click.ClickException(str(e)) from e
    click.echo("migrated records are unverified until `jepa-bench verify` passes on them again")
