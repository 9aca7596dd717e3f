"""``jepa-bench convert`` (LeRobot -> LeWM HDF5) and ``jepa-bench inspect`` (check an HDF5 file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jepa_bench.commands.options import InputError
from jepa_bench.convert.hdf5_writer import COMPRESSIONS
from jepa_bench.convert.layout import check_lewm_h5, open_lewm_h5, summarize
from jepa_bench.convert.pipeline import ConvertOptions, convert_lerobot
from jepa_bench.convert.report import (
    POLICIES,
    BadInputError,
    ConversionError,
    ConversionInterrupted,
)
from jepa_bench.convert.video import FITS, INTERPOLATIONS


def _one_line(message: str) -> str:
    return " ".join(str(message).split("\n"))


def parse_size(text: str) -> tuple[int, int] | None:
    """``"224"`` -> (224, 224); ``"224x288"`` -> (H, W); ``"0"`` or ``"native"`` -> None."""
    t = text.strip().lower()
    if t in ("0", "native", "none"):
        return None
    try:
        parts = [int(p) for p in t.split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise click.BadParameter(f"{text!r}: expected N, HxW, or 0 for the source size")
    return (parts[0], parts[-1])


def parse_episodes(text: str | None) -> list[int] | None:
    """``"0:10,12"`` -> [0, ..., 9, 12] (ranges exclude their end, like Python slices)."""
    if not text:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            if ":" in part:
                lo, hi = part.split(":")
                out.extend(range(int(lo), int(hi)))
            elif part.strip():
                out.append(int(part))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: expected indices and ranges like 0:10,12") from exc
    return out


@click.command("convert")
@click.argument("source")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--camera", help="Primary camera feature (default: the first video feature).")
@click.option(
    "--extra-cameras",
    type=click.Choice(["none", "datasets", "files"]),
    default="none",
    show_default=True,
    help="Other cameras: none, as pixels_<cam> datasets, or as OUT__<cam>.h5 files.",
)
@click.option("--size", default="224", show_default=True, help="N, HxW, or 0 to keep the size.")
@click.option("--fit", type=click.Choice(FITS), default="stretch", show_default=True)
@click.option("--interpolation", type=click.Choice(INTERPOLATIONS), default="bilinear")
@click.option("--compression", type=click.Choice(COMPRESSIONS), default="lzf", show_default=True)
@click.option("--micro-batch", type=int, default=64, show_default=True, help="= HDF5 chunk rows.")
@click.option(
    "--dirty-episode-policy", "policy", type=click.Choice(POLICIES), default="fail",
    show_default=True,
)  # fmt: skip
@click.option("--require-done/--no-require-done", default=False, show_default=True)
@click.option("--action-key", default="action", show_default=True)
@click.option("--proprio-key", default="observation.state", show_default=True)
@click.option("--state-key", default="observation.state", show_default=True)
@click.option("--episodes", help="Source episodes to convert, e.g. 0:10,12 (default: all).")
@click.option("--stall-timeout", type=float, default=120.0, show_default=True, help="Seconds.")
@click.option("--heartbeat", type=float, default=0.0, help="Status line every N seconds.")
@click.option("--decode-threads", type=int, default=0, help="0: the decoder chooses.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Report JSON.")
@click.option("--revision", help="Hub revision, when SOURCE is a repo id.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; decode nothing.")
@click.option("--progress/--no-progress", default=True)
def convert(
    source: str,
    out: Path,
    camera: str | None,
    extra_cameras: str,
    size: str,
    fit: str,
    interpolation: str,
    compression: str,
    micro_batch: int,
    policy: str,
    require_done: bool,
    action_key: str,
    proprio_key: str,
    state_key: str,
    episodes: str | None,
    stall_timeout: float,
    heartbeat: float,
    decode_threads: int,
    report_path: str | None,
    revision: str | None,
    overwrite: bool,
    dry_run: bool,
    progress: bool,
) -> None:
    """Convert a LeRobot dataset (v2.1 or v3.0 folder, or Hub repo id) to LeWM HDF5 at OUT.

    Frames are matched to parquet rows by timestamp, streamed in micro-batches, resized, and
    written to OUT.tmp, renamed to OUT only once complete and validated. A JSON report lists
    every issue found (default: OUT with the suffix .report.json).
    """
    try:
        size_hw = parse_size(size)
    except click.BadParameter as exc:
        exc.param_hint = "'--size'"
        raise
    try:
        episode_list = parse_episodes(episodes)
    except click.BadParameter as exc:
        exc.param_hint = "'--episodes'"
        raise
    opts = ConvertOptions(
        camera=camera,
        extra_cameras=extra_cameras,
        size=size_hw,
        fit=fit,
        interpolation=interpolation,
        compression=compression,
        micro_batch=micro_batch,
        dirty_episode_policy=policy,
        require_done=require_done,
        action_key=action_key,
        proprio_key=proprio_key,
        state_key=state_key,
        episodes=episode_list,
        stall_timeout_s=stall_timeout,
        heartbeat_s=heartbeat,
        decode_threads=decode_threads,
        overwrite=overwrite,
        report_path=report_path,
        revision=revision,
        dry_run=dry_run,
        progress=progress,
    )
    try:
        convert_lerobot(source, out, opts, log=lambda line: click.echo(line, err=True))
    except ConversionInterrupted as exc:  # SIGINT: 130, SIGTERM: 143, as a shell reports them
        click.echo(f"Error: {exc}; nothing written{_report_hint(exc)}", err=True)
        sys.exit(128 + exc.signum)
    except BadInputError as exc:
        raise InputError(_one_line(f"{exc}{_report_hint(exc)}")) from exc
    except ConversionError as exc:
        raise click.ClickException(f"{exc}\n{_report_hint(exc).strip()}") from exc
    except (OSError, ValueError) as exc:  # disk full, permissions, ...: no traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}{_report_hint(exc)}") from exc


def _report_hint(exc: BaseException) -> str:
    """`` (report: PATH)`` when the conversion wrote a report for this error."""
    path = getattr(exc, "report_path", None)
    return f" (report: {path})" if path else ""


@click.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--deep", is_flag=True, help="Also read every pixel chunk (slow).")
@click.option("--strict", is_flag=True, help="Exit non-zero on warnings too.")
def inspect(file: Path, as_json: bool, deep: bool, strict: bool) -> None:
    """Validate and summarise a LeWM-layout HDF5 file (ours, per-camera, stable-worldmodel)."""
    try:
        h5 = open_lewm_h5(file, cache_mb=0)  # every chunk is read at most once
    except (ValueError, FileNotFoundError) as exc:  # not a file in the layout: exit code 2
        raise InputError(_one_line(str(exc))) from exc
    with h5:
        result = check_lewm_h5(h5, deep=deep)
        info = summarize(h5)
    info["errors"], info["warnings"] = result.errors, result.warnings
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        _print_summary(info)
    if result.errors or (strict and result.warnings):
        raise SystemExit(1)


def _print_summary(info: dict) -> None:
    el = info["ep_len"]
    click.echo(
        f"{info['path']}: {info['rows']} rows, {info['episodes']} episodes "
        f"(length {el['min']}..{el['max']}, mean {el['mean']:.1f}), {info['file_mb']} MiB"
    )
    width = max(len(k) for k in info["columns"]) if info["columns"] else 0
    for name, col in info["columns"].items():
        chunks = f" chunks {tuple(col['chunks'])}" if col["chunks"] else ""
        comp = f" {col['compression']}" if col["compression"] else ""
        click.echo(f"  {name:<{width}}  {tuple(col['shape'])} {col['dtype']}{chunks}{comp}")
    keys = ("source", "camera", "source_camera_key", "fps", "codebase_version", "generated_by")
    prov = {k: info["attrs"][k] for k in keys if k in info["attrs"]}
    if prov:
        click.echo("  provenance: " + ", ".join(f"{k}={v}" for k, v in prov.items()))
    status = "OK" if not info["errors"] else f"INVALID ({len(info['errors'])} errors)"
    click.echo(f"check: {status}, {len(info['warnings'])} warnings")
    for e in info["errors"]:
        click.echo(f"  error: {e}")
    for w in info["warnings"]:
        click.echo(f"  warning: {w}")
