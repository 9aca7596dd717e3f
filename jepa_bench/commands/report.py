"""``jepa-bench report``: the latent-space autopsy of one or several runs as an HTML page."""

from __future__ import annotations

import time
from typing import Any

import click

from jepa_bench.report.build import DEFAULT_MAX_WINDOWS, DEFAULT_TSNE_POINTS


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    "-o",
    default=None,
    help="Report folder (default: RUN_DIR/report for one run, ./report for several).",
)
@click.option(
    "--tsne-points",
    type=int,
    default=DEFAULT_TSNE_POINTS,
    show_default=True,
    help="Points in the t-SNE map (half encoder, half predictor); 0 = every frame (slow).",
)
@click.option(
    "--max-windows",
    type=int,
    default=DEFAULT_MAX_WINDOWS,
    show_default=True,
    help="Windows (or whole episodes) encoded and rolled out; 0 = all.",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="cpu",
    show_default=True,
    help="Where the models run.",
)
@click.option(
    "--data-dir",
    default=None,
    help="Task data/cache directory (default: the one recorded in the run's config).",
)
def report(**kw: Any) -> None:
    """Write an HTML report (figures embedded, PNGs beside it) for RUN_DIR [RUN_DIR ...].

    Figures: predictive drift, PCA by sequence and time, nearest neighbours with their frames,
    t-SNE of encoder vs predictor latents, probes, collapse statistics, training curves and
    checkpoints over training; a plain-words verdict (collapsed / lazy / drifting / healthy)
    heads the page. Several run directories are put side by side.

    \b
    Examples:
      jepa-bench report runs/wall_door__convnext_mlp__default__s0__default__0123abcd
      jepa-bench report runs/*sigreg* --out reports/sigreg_ablation
    """
    from jepa_bench.commands.options import InputError
    from jepa_bench.config import ConfigError
    from jepa_bench.registry import UnknownNameError
    from jepa_bench.report.build import build_report
    from jepa_bench.runner import RunDirError

    for key in ("tsne_points", "max_windows"):
        if kw[key] < 0:
            raise click.BadParameter("must be >= 0", param_hint=f"--{key.replace('_', '-')}")
    if 0 < kw["tsne_points"] < 4:
        raise click.BadParameter("must be 0 (all points) or >= 4", param_hint="--tsne-points")
    if kw["device"] == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise click.BadParameter("torch sees no CUDA device", param_hint="--device")
    t0 = time.perf_counter()
    try:
        page = build_report(
            list(kw["run_dirs"]),
            kw["out"],
            tsne_points=kw["tsne_points"] or None,
            max_windows=kw["max_windows"] or None,
            device=kw["device"],
            data_dir=kw["data_dir"],
            echo=lambda msg: click.echo(msg, err=True),
        )
    except (RunDirError, ConfigError) as exc:  # not a run directory, or one we cannot rebuild
        raise InputError(str(exc)) from exc
    except (FileNotFoundError, ValueError, UnknownNameError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {page} ({time.perf_counter() - t0:.1f}s)")
