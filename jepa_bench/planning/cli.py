"""``jepa-bench plan``: score a trained run's world model as a planner (CEM in latent space)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import click

MODEL_FILE = "model.safetensors"


def load_run(run_dir: Path) -> tuple[Any, Any, Any]:
    """(RunConfig, task, model with the run's weights) of a run directory."""
    import yaml

    from jepa_bench.config import RunConfig
    from jepa_bench.runner import build
    from jepa_bench.train.checkpoint import load_model

    cfg_path, weights = run_dir / "config.yaml", run_dir / MODEL_FILE
    for path in (cfg_path, weights):
        if not path.is_file():
            raise click.ClickException(f"{run_dir} is not a run directory: {path.name} is missing")
    try:
        data = yaml.safe_load(cfg_path.read_text())
        cfg = RunConfig.from_dict(data)
    except (yaml.YAMLError, TypeError, ValueError) as e:
        raise click.ClickException(f"{cfg_path}: not a valid run config ({e})") from e
    task, model, _ = build(cfg)
    if not hasattr(task, "planning_env"):
        raise click.ClickException(
            f"task {cfg.task!r} has no interactive environment (planning_env); cannot plan on it"
        )
    try:
        load_model(model, weights)
    except Exception as e:  # corrupt file or mismatched architecture
        raise click.ClickException(f"{weights}: cannot load the model weights ({e})") from e
    return cfg, task, model


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


def format_table(result: dict[str, Any]) -> str:
    """Per policy and case: success at both radii, final distance, progress, steps to success."""
    d = result["details"]
    r, lr = d["radius_px"], d["loose_radius_px"]
    head = ("policy", "case", f"success@{r:g}px", f"success@{lr:g}px", "final dist px",
            "progress px", "steps")  # fmt: skip
    rows = [head]
    for policy, cases in d["summary"].items():
        for case, s in cases.items():
            steps = s.get("steps_to_success")
            rows.append(
                (
                    policy,
                    case,
                    f"{s['success']:.2f}",
                    f"{s['success_loose']:.2f}",
                    f"{s['final_dist']:.2f}",
                    f"{s['progress']:+.2f}",
                    "-" if steps is None or math.isnan(steps) else f"{steps:.1f}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for policy, stats in d.get("call_time", {}).items():
        lines.append(
            f"{policy}: {stats['median_ms']:.1f} ms per planning call (median of {stats['calls']})"
        )
    return "\n".join(lines + [f"note: {m}" for m in d.get("messages", [])])


def _plan_settings(details: Any) -> dict[str, Any] | None:
    """Settings that determine planning metrics (all but the time limit), or None."""
    if not isinstance(details, dict) or not isinstance(details.get("settings"), dict):
        return None
    return {k: v for k, v in details["settings"].items() if k != "max_minutes"}


def _with_plan(metrics: dict[str, Any] | None, res: dict[str, Any] | None) -> dict[str, Any]:
    """``metrics`` without its plan/ keys, plus those of ``res``."""
    out = {k: v for k, v in (metrics or {}).items() if not k.startswith("plan/")}
    for key, value in (res or {}).get("metrics", {}).items():
        out[key] = {"value": value, "higher_is_better": res["higher_is_better"][key]}
    return out


def write_planning(record_path: Path, trained: dict[str, Any], untrained: dict | None) -> None:
    """Put planning metrics into a run's result record (other metrics untouched), atomically.

    Earlier plan/ keys are replaced. Untrained plan/ keys are recomputed when ``untrained`` is
    given, kept when they were made with the same settings, and dropped otherwise.
    """
    from jepa_bench.record.io import load_record, write_record

    record = load_record(record_path)
    details = dict(record.get("details") or {})
    record["metrics"] = _with_plan(record["metrics"], trained)
    previous = details.get("planning") or {}
    old = previous.get("untrained") or (details.get("untrained") or {}).get("planning")
    same = old is not None and _plan_settings(old) == _plan_settings(trained["details"])
    if untrained is None and same:
        untrained = {"details": old}  # the existing untrained plan/ keys match: keep them
    elif record.get("untrained_metrics") is not None or untrained is not None:
        record["untrained_metrics"] = _with_plan(record.get("untrained_metrics"), untrained)
    details["planning"] = {
        "trained": trained["details"],
        "untrained": (untrained or {}).get("details"),
    }
    record["details"] = details
    write_record(record_path, record)


@click.command("plan")
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A run directory (config.yaml + model.safetensors).",
)
@click.option("--episodes", type=int, default=None, help="Episodes per case (same / cross room).")
@click.option("--samples", type=int, default=None, help="CEM samples per iteration.")
@click.option("--iterations", type=int, default=None, help="CEM iterations per planning call.")
@click.option("--topk", type=int, default=None, help="CEM elites refitted per iteration.")
@click.option("--horizon", type=int, default=None, help="Planned actions per call.")
@click.option("--replan-every", type=int, default=None, help="Actions executed between calls.")
@click.option("--max-steps", type=int, default=None, help="Steps per episode.")
@click.option("--radius", type=float, default=None, help="Success radius, px (PLDM: 1.41).")
@click.option("--loose-radius", type=float, default=None, help="Second, looser success radius.")
@click.option(
    "--objective",
    type=click.Choice(["final", "mean"]),
    default=None,
    help="Latent cost on the last predicted step (LeWM) or averaged over the horizon.",
)
@click.option("--seed", type=int, default=None, help="CEM / random-baseline seed (default: run's).")
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
    **overrides: Any,
) -> None:
    """Plan with a trained run's model on fixed wall_door episodes; report success rates.

    Settings default to the run's eval.plan config. Prints success at both radii, mean final
    distance and steps to success for the model, a random-action baseline and an oracle planner
    on the true dynamics, and the time per planning call.

    \b
    Example:
      jepa-bench plan --run runs/wall_door__convnext_mlp__vicreg__s0__default__<hash> --write
    """
    from jepa_bench.planning.evaluate import check_plan_config, plan_eval
    from jepa_bench.runner import build, pick_device

    path = Path(run_dir)
    record_path = path / "result.json"
    if write and not record_path.is_file():
        raise click.ClickException(f"--write needs {record_path}, which does not exist")
    if write:
        check_checkpoint(record_path, path / MODEL_FILE)
    cfg, task, model = load_run(path)
    given = {k: v for k, v in overrides.items() if v is not None}
    plan_cfg = dataclasses.replace(cfg.eval.plan, max_minutes=None, **given)
    try:
        check_plan_config(plan_cfg)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e
    dev = pick_device(device)
    run_seed = cfg.seed if seed is None else seed
    kw = dict(baselines=not no_baselines, progress=not quiet, env_factory=task.planning_env)
    trained = plan_eval(model.to(dev), plan_cfg, dev, run_seed, **kw)
    click.echo(f"{cfg.model} ({path.name})\n" + format_table(trained))
    twin = None
    if untrained:
        _, fresh, _ = build(cfg)  # build() seeds before init: the untrained twin
        twin = plan_eval(fresh.to(dev), plan_cfg, dev, run_seed, **{**kw, "baselines": False})
        for key, value in trained["metrics"].items():  # baselines do not depend on the model
            if key.startswith(("plan/random/", "plan/oracle/")):
                twin["metrics"][key] = value
                twin["higher_is_better"][key] = trained["higher_is_better"][key]
        click.echo("\nuntrained twin\n" + format_table(twin))
    if write:
        write_planning(record_path, trained, twin)
        click.echo(f"\nwrote plan/... metrics to {record_path}")
