"""``jepa-bench rescore``: evaluate recorded checkpoints again under today's protocol."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("rescore")
@click.argument("records", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o", "--out", default="runs", show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Parent directory of the new run directories.",
)  # fmt: skip
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Weights to use (one record only; default: the run directory's or leaderboard's copy).",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--data-dir", default=None, help="Task data directory (default: the recorded one).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def rescore(
    records: tuple[Path, ...], out: Path, checkpoint: Path | None, device: str,
    data_dir: str | None, quiet: bool,
) -> None:  # fmt: skip
    """Re-score RECORDS (record files or run directories) under today's evaluation protocol.

    Each record's checkpoint (sha256 checked first) is evaluated again, with its untrained twin,
    using today's evaluation settings (the run's choice of planning and of the untrained twin
    is kept); what it trained stays as recorded. Each result is a new run directory under OUT,
    named by the new config hash, with config.yaml, the checkpoint and result.json
    (details.rescore names the old record). Submit it like any run:

    \b
      jepa-bench rescore leaderboard/records/wall_door/*.json --out runs/rescored
      jepa-bench submit runs/rescored/<run> && jepa-bench verify leaderboard/records/...
    """
    from jepa_bench.commands.options import InputError
    from jepa_bench.config import ConfigError
    from jepa_bench.record.io import RecordError
    from jepa_bench.submit.rescore import RescoreError
    from jepa_bench.submit.rescore import rescore as rescore_one

    if checkpoint is not None and len(records) != 1:
        raise InputError("--checkpoint names the weights of one record; pass one record")
    for path in records:
        try:
            done = rescore_one(
                path, out, checkpoint=checkpoint, device=device, data_dir=data_dir,
                progress=not quiet,
            )  # fmt: skip
        except (RescoreError, RecordError, ConfigError) as e:
            raise click.ClickException(str(e)) from e
        click.echo(f"{path} -> {done}")
