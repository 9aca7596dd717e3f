"""``jepa-bench ablate``: every regulariser x seed, resumable, summarised over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from jepa_bench.commands.options import parse_pairs
from jepa_bench.config import BUDGET_NAMES, ConfigError, RunConfig


@click.command("ablate")
@click.option("--model", "-m", default="convnext_mlp", show_default=True)
@click.option("--task", "-t", default="wall_door", show_default=True)
@click.option(
    "--reg",
    "-r",
    "regs",
    default="none,vicreg,sigreg,bias_free",
    show_default=True,
    help="Comma-separated regulariser compositions to compare.",
)
@click.option(
    "--seeds",
    default=3,
    show_default=True,
    type=int,
    help="Number of seeds (0..N-1) per regulariser.",
)
@click.option(
    "--budget", "-b", type=click.Choice(BUDGET_NAMES), default="default", show_default=True
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--out", "-o", default="runs", show_default=True, help="Parent of run directories.")
@click.option("--data-dir", default=None, help="Task cache / data directory.")
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Runs at a time (local worker processes, threads split between them).",
)
@click.option("--steps", type=int, default=None, help="Override the budget's training steps.")
@click.option(
    "--launcher",
    type=click.Choice(["local", "submitit"]),
    default="local",
    show_default=True,
    help="local: this machine (--jobs at a time); submitit: one cluster job per run "
    "(pip install 'jepa-bench[cluster]').",
)
@click.option(
    "--launcher-arg",
    multiple=True,
    metavar="KEY=VALUE",
    help="submitit executor parameter, e.g. slurm_partition=gpu, gpus_per_node=1, "
    "timeout_min=60, cluster=debug (in-process, for trying it out).",
)
@click.option(
    "--finished-only",
    is_flag=True,
    help="Train nothing: summarise the grid's runs that have finished (e.g. a grid stopped "
    "part-way); the table gives each regulariser's number of seeds.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def ablate(**kw: Any) -> None:
    """Train MODEL on TASK once per regulariser and seed; table and plot of mean +- std.

    Finished runs (a valid result.json in their run directory) are reused, so an interrupted
    ablation continues where it stopped. Writes OUT/ablation__<task>__<model>__<budget>/ with
    summary.md, summary.csv, runs.csv and ablation.png.

    \b
    Example:
      jepa-bench ablate --model convnext_mlp --task wall_door \\
          --reg none,vicreg,sigreg,bias_free --seeds 3
    """
    from jepa_bench.ablation.grid import finished_record, grid_configs, run_grid
    from jepa_bench.ablation.summary import summarise, to_markdown, write_summary
    from jepa_bench.models.plugins import model_slug
    from jepa_bench.runner import check_output_dirs

    regs = [r.strip() for r in kw["regs"].split(",") if r.strip()]
    if not regs or kw["seeds"] < 1:
        raise click.UsageError("need at least one regulariser and one seed")
    base = {
        "model": kw["model"],
        "task": kw["task"],
        "budget": kw["budget"],
        "device": kw["device"],
        "out": kw["out"],
        "data_dir": kw["data_dir"],
        "train": {"steps": kw["steps"]},
    }
    try:
        configs = grid_configs(base, regs, range(kw["seeds"]))
        check_output_dirs(configs[0])  # before any run writes its data or its directory
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc

    def done(cfg: RunConfig, rec: dict[str, Any], reused: bool) -> None:
        how = "reused" if reused else "finished"
        click.echo(f"[{how}] reg={cfg.reg} seed={cfg.seed} -> {rec['run_id']}")

    if kw["finished_only"]:
        configs = [c for c in configs if finished_record(c) is not None]
        if not configs:
            raise click.ClickException(f"no finished run of this grid under {kw['out']}")
    records = run_grid(
        configs,
        jobs=kw["jobs"],
        progress=not kw["quiet"],
        on_done=done,
        launcher=kw["launcher"],
        launcher_params=parse_pairs(kw["launcher_arg"], "--launcher-arg"),
    )
    model = model_slug(kw["model"])  # a plug-in "path/file.py:factory" is no folder name
    out_dir = Path(kw["out"]) / f"ablation__{kw['task']}__{model}__{kw['budget']}"
    paths = write_summary(records, out_dir)
    click.echo("\n" + to_markdown(summarise(records)))
    click.echo(f"\nwrote {', '.join(str(p) for p in paths.values())}")
