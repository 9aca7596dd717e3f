"""``jepa-bench plan``: score a trained run's world model as a planner (CEM in latent space)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from jepa_bench.commands.options import InputError
from jepa_bench.config import (
    PLAN_OBJECTIVES,
    PLAN_PROTOCOLS,
    PLANNERS,
    ConfigError,
    protocol_config,
)


def check_checkpoint(record_path: Path, weights: Path) -> None:
    """Refuse to annotate a record whose checkpoint is not the weights being planned with."""
    from jepa_bench.record.io import RecordError, file_sha256, load_record

    try:
        record = load_record(record_path)
    except RecordError as e:
        raise click.ClickException(str(e)) from e
    if not weights.is_file():
        raise click.ClickException(
            f"{weights.parent} is not a run directory: {weights.name} is missing"
        )
    expected = (record.get("checkpoint") or {}).get("sha256")
    if expected is not None and expected != file_sha256(weights):
        raise click.ClickException(
            f"{weights} does not match the checkpoint recorded in {record_path} "
            "(sha256 differs); refusing to write planning metrics for other weights"
        )


def _rate(s: dict[str, Any], key: str) -> str:
    """``0.62 [0.55, 0.68]``: a success rate and its Wilson 95% interval."""
    value, lo, hi = s.get(key), s.get(f"{key}_lo"), s.get(f"{key}_hi")
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def format_table(result: dict[str, Any]) -> str:
    """Per policy and case: success at both radii with intervals, distances, steps to success."""
    d = result["details"]
    r, lr = d["radius_px"], d["loose_radius_px"]
    head = ("policy", "case", "n", f"success@{r:g}px [95% CI]", f"success@{lr:g}px [95% CI]",
            "final dist px", "progress px", "steps")  # fmt: skip
    rows = [head]
    for policy, cases in d["summary"].items():
        for case, s in cases.items():
            steps = s.get("steps_to_success")
            n = s.get("episodes")
            rows.append(
                (
                    policy,
                    case,
                    "-" if n is None or math.isnan(n) else f"{n:.0f}",
                    _rate(s, "success"),
                    _rate(s, "success_loose"),
                    f"{s['final_dist']:.2f}",
                    f"{s['progress']:+.2f}",
                    "-" if steps is None or math.isnan(steps) else f"{steps:.1f}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    cfg = d["settings"]
    lines.append(
        f"protocol: {cfg['planner']} planner, horizon {cfg['horizon']}, replan every "
        f"{cfg['replan_every']}, {cfg['max_steps']} steps, {cfg['episodes']} episodes x "
        f"{cfg['seeds']} eval seeds per case, objective {cfg['objective']}"
    )
    for policy, stats in d.get("call_time", {}).items():
        lines.append(
            f"{policy}: {stats['median_ms']:.1f} ms per decision (median of {stats['calls']} "
            f"calls of {stats['episodes']} episodes)"
        )
    hw = d.get("hardware") or {}
    if hw:
        lines.append(f"hardware: {hw.get('gpu') or hw.get('cpu')}, {hw.get('threads')} threads")
    return "\n".join(lines + [f"note: {m}" for m in d.get("messages", [])])


@click.command("plan")
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A run directory (config.yaml + model.safetensors).",
)
@click.option(
    "--protocol",
    type=click.Choice(sorted(PLAN_PROTOCOLS)),
    default="report",
    show_default=True,
    help="report: the run's eval.plan settings with at least "
    f"{PLAN_PROTOCOLS['report']['episodes']} episodes x {PLAN_PROTOCOLS['report']['seeds']} "
    "eval seeds per case; run: exactly the run's eval.plan settings. Flags below override.",
)
@click.option("--planner", type=click.Choice(list(PLANNERS)), default=None, help="The planner.")
@click.option("--episodes", type=int, default=None, help="Episodes per case and eval seed.")
@click.option("--seeds", type=int, default=None, help="Eval seeds (episode sets x noise).")
@click.option("--samples", type=int, default=None, help="Samples per iteration (cem, mppi).")
@click.option("--iterations", type=int, default=None, help="Iterations / Adam steps per call.")
@click.option("--topk", type=int, default=None, help="CEM elites refitted per iteration.")
@click.option("--temperature", type=float, default=None, help="MPPI temperature (relative).")
@click.option("--init-std", type=float, default=None, help="Sampling / restart noise std.")
@click.option("--lr", type=float, default=None, help="Gradient planner learning rate.")
@click.option("--restarts", type=int, default=None, help="Gradient planner restarts.")
@click.option("--horizon", type=int, default=None, help="Planned actions per call.")
@click.option("--replan-every", type=int, default=None, help="Actions executed between calls.")
@click.option("--max-steps", type=int, default=None, help="Steps per episode.")
@click.option("--radius", type=float, default=None, help="Success radius, px (PLDM: 1.41).")
@click.option(
    "--loose-radius", type=float, default=None, help="Second radius, px (4.6: stable-worldmodel)."
)
@click.option(
    "--objective",
    type=click.Choice(list(PLAN_OBJECTIVES)),
    default=None,
    help="Latent cost: last predicted step (LeWM), mean, PLDM's ramp or min over the horizon.",
)
@click.option(
    "--residual/--no-residual",
    default=None,
    help="Shift predictions by the model's error over the windows just executed.",
)
@click.option("--seed", type=int, default=None, help="Planner / random seed (default: run's).")
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option("--untrained", is_flag=True, help="Also plan with the untrained twin (same init).")
@click.option("--no-baselines", is_flag=True, help="Skip the random and oracle baselines.")
@click.option(
    "--write",
    is_flag=True,
    help="Add plan/... metrics to the run's result.json (other metrics untouched).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def plan(
    run_dir: str,
    device: str,
    untrained: bool,
    no_baselines: bool,
    write: bool,
    quiet: bool,
    seed: int | None,
    protocol: str,
    **overrides: Any,
) -> None:
    """Plan with a trained run's model on its task's fixed episodes; report success rates.

    Settings default to the run's eval.plan config under --protocol. Prints success at both radii
    with Wilson 95% intervals, mean final distance and steps to success for the model, a
    random-action baseline and an oracle planner on the true dynamics, and the time per decision.

    \b
    Example:
      jepa-bench plan --run runs/wall_door__convnext_mlp__vicreg__s0__default__<hash> --write
    """
    from jepa_bench.data.base import planning_suite
    from jepa_bench.planning.evaluate import plan_eval
    from jepa_bench.planning.record import write_planning
    from jepa_bench.runner import RunDir, RunDirError

    rundir = RunDir(Path(run_dir))
    if write and not rundir.result_file.is_file():
        raise click.ClickException(f"--write needs {rundir.result_file}, which does not exist")
    if write:
        check_checkpoint(rundir.result_file, rundir.model_file)
    try:
        run = rundir.load(device)
    except (RunDirError, ConfigError) as e:
        raise InputError(str(e)) from e
    suite = planning_suite(run.task)
    if suite is None:
        raise click.ClickException(
            f"task {run.cfg.task!r} has no interactive environment; it cannot be planned in"
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        plan_cfg = protocol_config(run.cfg.eval.plan, protocol, max_minutes=None, **given)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from e
    run_seed = run.cfg.seed if seed is None else seed
    kw: dict[str, Any] = dict(progress=not quiet)
    trained = plan_eval(
        run.model, plan_cfg, run.device, run_seed, suite, baselines=not no_baselines, **kw
    )
    click.echo(f"{run.cfg.model} ({rundir.path.name})\n" + format_table(trained))
    twin = None
    if untrained:
        twin = plan_eval(
            run.untrained, plan_cfg, run.device, run_seed, suite, baselines=False, **kw
        )
        for key, value in trained["metrics"].items():  # baselines do not depend on the model
            if key.startswith(("plan/random/", "plan/oracle/")):
                twin["metrics"][key] = value
                twin["higher_is_better"][key] = trained["higher_is_better"][key]
        click.echo("\nuntrained twin\n" + format_table(twin))
    if write:
        write_planning(rundir.result_file, trained, twin)
        click.echo(f"\nwrote plan/... metrics to {rundir.result_file}")
