"""``jepa-bench submit`` and ``jepa-bench verify``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from jepa_bench.submit.compare import DEFAULT_ATOL, DEFAULT_RTOL


@click.command("submit")
@click.argument("run_dir", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--leaderboard-dir",
    default="leaderboard",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Leaderboard to add the record and checkpoint to.",
)
@click.option("--allow-smoke", is_flag=True, help="Accept a smoke-budget run (for tests).")
@click.option(
    "--no-checkpoint-copy",
    is_flag=True,
    help="Do not copy the weights into the leaderboard (verify then needs --checkpoint).",
)
@click.option("--data-dir", default=None, help="Task data directory (to read the task's version).")
def submit(
    run_dir: Path, leaderboard_dir: Path, allow_smoke: bool, no_checkpoint_copy: bool,
    data_dir: str | None,
) -> None:  # fmt: skip
    """Check RUN_DIR's result.json and add it to the leaderboard.

    Refused, with the reasons, when the record does not validate against the schema, names a
    metric the evaluator never writes, lacks the task data's hash, its checkpoint (safetensors
    only) is missing or does not match the recorded sha256, its config does not hash to the
    recorded config hash, its parameter counts are not those of the rebuilt model, its planning
    stopped at its time cap, it is a smoke run (without --allow-smoke), the installed task has
    another version, or the run id is already on the leaderboard (a submit never replaces a
    record). Nothing is written unless every check passes; writing holds the leaderboard's lock,
    so of two simultaneous submits one wins. The record goes to
    LEADERBOARD/records/<task>/<run_id>.json and the weights to
    LEADERBOARD/checkpoints/<task>/<run_id>.safetensors (keep large ones out of git with
    --no-checkpoint-copy); the tables are regenerated. The new row is unverified until
    `jepa-bench verify` re-computes it.
    """
    from jepa_bench.commands.options import InputError
    from jepa_bench.record.io import RecordError
    from jepa_bench.runner.rundir import RESULT_FILE
    from jepa_bench.submit.submit import SubmissionError, submit_run

    folder = run_dir.parent if run_dir.is_file() else run_dir
    if not (folder / RESULT_FILE).is_file():
        raise InputError(f"{folder} is not a run directory: it has no {RESULT_FILE}")
    try:
        done = submit_run(
            run_dir, leaderboard_dir, allow_smoke=allow_smoke,
            copy_checkpoint=not no_checkpoint_copy, data_dir=data_dir,
        )  # fmt: skip
    except (SubmissionError, RecordError, FileExistsError) as e:
        raise click.ClickException(str(e)) from e
    for note in done.notes:
        click.echo(f"note: {note}")
    click.echo(f"record: {done.record}")
    if done.checkpoint is not None:
        click.echo(f"checkpoint: {done.checkpoint}")
    click.echo(f"tables regenerated in {leaderboard_dir}; verify the row with:")
    click.echo(f"  jepa-bench verify {done.record}")


@click.command("verify")
@click.argument("record", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Weights to use (default: the run directory's, or the leaderboard's copy).",
)
@click.option(
    "--rtol",
    type=float,
    default=DEFAULT_RTOL,
    show_default=True,
    help="Relative tolerance per metric.",
)
@click.option(
    "--atol",
    type=float,
    default=DEFAULT_ATOL,
    show_default=True,
    help="Absolute tolerance per metric.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to re-run the evaluation.",
)
@click.option(
    "--data-dir",
    default=None,
    help="Task data directory (default: this machine's cache, $JEPA_BENCH_CACHE or "
    "~/.cache/jepa-bench; never the folder the record names). The data's hash must be the "
    "recorded one.",
)
@click.option("--skip-untrained", is_flag=True, help="Do not re-evaluate the untrained twin.")
@click.option(
    "--update-leaderboard/--no-update-leaderboard",
    default=None,
    help="Store the outcome in the leaderboard copy and regenerate the tables "
    "[default: when RECORD lives in a leaderboard].",
)
@click.option(
    "--leaderboard-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Leaderboard to update (default: the one RECORD lives in, else ./leaderboard).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def verify(
    record: Path, checkpoint: Path | None, rtol: float, atol: float, device: str,
    data_dir: str | None, skip_untrained: bool, update_leaderboard: bool | None,
    leaderboard_dir: Path | None, quiet: bool,
) -> None:  # fmt: skip
    """Re-run the evaluation of RECORD (a record file or run directory) and compare its metrics.

    The checkpoint's sha256 must match the record before it is loaded, the config must hash to
    the recorded config hash, every metric name must be one the evaluator writes, the rebuilt
    model's parameter counts and the hash of the task data evaluated on must be the recorded
    ones. The evaluation then runs with the recorded seed, budget and settings on the installed
    task (same version as recorded), and the untrained twin is rebuilt from the seed and
    re-evaluated. Weights kept outside the leaderboard: --checkpoint PATH. A metric passes when
    |recomputed - recorded| <= atol + rtol * |recorded| (NaN only matches NaN).

    \b
    Tolerance: the defaults (rtol 1e-3, atol 1e-4) are for the machine and software that made
    the record, where the evaluation is deterministic. On other hardware (another CPU, a GPU
    against a CPU, another torch) probe training takes other rounding paths: use e.g.
    --rtol 0.05 and say so.

    \b
    Exit status: 0 every metric passed; 1 a metric or a hash did not match; 2 nothing could be
    compared (no checkpoint here, another task version installed, unreadable record).
    """
    from jepa_bench.leaderboard.lock import LeaderboardBusy
    from jepa_bench.leaderboard.tables import record_path
    from jepa_bench.record.io import RecordError
    from jepa_bench.submit.verify import (
        format_checks,
        leaderboard_root,
        mark_leaderboard,
        verify_record,
    )

    try:
        result = verify_record(
            record, checkpoint=checkpoint, rtol=rtol, atol=atol, device=device,
            data_dir=data_dir, untrained=not skip_untrained, progress=not quiet,
        )  # fmt: skip
    except (RecordError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    rec = result.record
    click.echo(
        f"{rec['run_id']}: {rec['model']['name']} on {rec['task']['name']} "
        f"({rec['task']['version']}), seed {rec['seed']}, budget {rec['budget']}"
    )
    if result.checks:
        click.echo(format_checks(result))
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(f"tolerance: rtol {rtol:g}, atol {atol:g}")

    root = leaderboard_root(result.record_file, rec)
    if update_leaderboard is None:
        update_leaderboard = root is not None
    if update_leaderboard and result.block is not None:
        target = leaderboard_dir or root or Path("leaderboard")
        try:
            dest = mark_leaderboard(result, target)
        except (ValueError, FileNotFoundError, RecordError, LeaderboardBusy) as e:
            click.echo(f"error: leaderboard not updated: {e}", err=True)
            sys.exit(2)
        mark = "verified" if result.passed else "not verified"
        click.echo(f"leaderboard: {dest} marked {mark}; tables regenerated")
    elif update_leaderboard:
        click.echo(
            f"leaderboard: {record_path(leaderboard_dir or root or 'leaderboard', rec)} "
            "left unchanged (nothing could be compared)"
        )
    verdict = {"passed": "PASSED", "failed": "FAILED", "error": "NOT VERIFIED (error)"}
    click.echo(f"verification {verdict[result.status]}")
    sys.exit({"passed": 0, "failed": 1, "error": 2}[result.status])
