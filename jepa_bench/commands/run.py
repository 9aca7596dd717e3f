"""``jepa-bench run``: train one model on one task, evaluate it beside its untrained twin."""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import click

from jepa_bench.config import BUDGETS, RunConfig


def _kv(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """Parse ``key=value`` options (numbers and booleans become numbers and booleans)."""
    import yaml

    out: dict[str, Any] = {}
    for item in pairs:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint=flag)
        out[key.strip()] = yaml.safe_load(value)
    return out


def _relaunch_under_torchrun(nproc: int) -> None:
    """Replace this process by ``torchrun --nproc_per_node N -m jepa_bench run <same args>``."""
    args = sys.argv[1:]
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "jepa_bench",
        *out,
    ]
    click.echo("launching: " + " ".join(cmd[1:]), err=True)
    os.execv(sys.executable, cmd)


def format_summary(record: dict[str, Any]) -> str:
    """A fixed-width table of every metric, trained vs untrained, and their ratio."""
    rows = [("metric", "trained", "untrained", "ratio", "better")]
    untrained = record.get("untrained_metrics", {})
    for name, m in record["metrics"].items():
        v = m["value"]
        u = untrained.get(name, {}).get("value")
        ratio = v / u if (u not in (None, 0) and math.isfinite(u) and math.isfinite(v)) else None
        rows.append(
            (
                name,
                f"{v:.4g}",
                "-" if u is None else f"{u:.4g}",
                "-" if ratio is None else f"{ratio:.3f}",
                "higher" if m["higher_is_better"] else "lower",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    p = record["model"]["params"]
    t = record["times"]
    head = (
        f"{record['model']['name']} on {record['task']['name']} ({record['task']['version']}), "
        f"reg {record['regularizer']['spec']}, seed {record['seed']}, budget {record['budget']}\n"
        f"params: " + ", ".join(f"{k} {v:,}" for k, v in p.items()) + "\n"
        f"time: data {t['data_s']:.1f}s, train {t['train_s']:.1f}s, eval {t['eval_s']:.1f}s, "
        f"total {t['total_s']:.1f}s\n"
    )
    return head + "\n".join(lines)


@click.command("run")
@click.option(
    "--model",
    "-m",
    default="convnext_mlp",
    show_default=True,
    help="Registered model name (see `jepa-bench list models`).",
)
@click.option(
    "--task",
    "-t",
    default="wall_door",
    show_default=True,
    help="Registered task name (see `jepa-bench list tasks`).",
)
@click.option(
    "--reg",
    "-r",
    default=None,
    help="Regulariser composition, e.g. vicreg, sigreg:0.09, sigreg+bias_free. "
    "Default: the model family's own.",
)
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Run seed.")
@click.option(
    "--budget",
    "-b",
    type=click.Choice(BUDGETS),
    default="default",
    show_default=True,
    help="smoke: seconds (tests); default: <= 10 min on 2 CPU cores; full: GPU reference.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto = CUDA when available.",
)
@click.option(
    "--out", "-o", default="runs", show_default=True, help="Parent directory of run directories."
)
@click.option(
    "--data-dir",
    default=None,
    help="Cache / data directory for the task (default $JEPA_BENCH_CACHE or ~/.cache/jepa-bench).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="YAML/JSON preset of RunConfig fields (e.g. a file in baselines/); flags win.",
)
@click.option("--steps", type=int, default=None, help="Override the budget's training steps.")
@click.option("--batch-size", type=int, default=None, help="Override the batch size.")
@click.option("--lr", type=float, default=None, help="Override the learning rate.")
@click.option(
    "--window",
    type=int,
    default=None,
    help="Frames per training sample, cropped from each task window at a seeded random offset "
    "(0: whole windows). Default: the model's, whole windows for the built-in models; "
    "LeWM's own training uses history + 1 frames.",
)
@click.option(
    "--max-minutes",
    type=float,
    default=None,
    help="Also stop training after this many minutes (results then depend on the machine).",
)
@click.option(
    "--compile", "use_compile", is_flag=True, help="Use torch.compile for the train step."
)
@click.option("--model-arg", multiple=True, metavar="KEY=VALUE", help="Model factory argument.")
@click.option("--task-arg", multiple=True, metavar="KEY=VALUE", help="Task factory argument.")
@click.option(
    "--checkpoint-every",
    type=int,
    default=None,
    help="Save a resumable checkpoint every N steps (default: only at the end).",
)
@click.option(
    "--keep-snapshots",
    is_flag=True,
    help="Keep model_step<N>.safetensors at every checkpoint (compared in reports).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run with the same config.")
@click.option("--no-untrained", is_flag=True, help="Skip evaluating the untrained reference.")
@click.option(
    "--leaderboard-dir",
    default="leaderboard",
    show_default=True,
    help="Where the result record is added and tables regenerated.",
)
@click.option(
    "--no-leaderboard",
    is_flag=True,
    help="Do not add the record to the leaderboard (smoke runs never are).",
)
@click.option(
    "--nproc",
    type=int,
    default=1,
    show_default=True,
    help="Processes for DDP training (relaunches itself under torchrun; gloo on CPU, "
    "nccl on CUDA). --batch-size is then the global batch.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option(
    "--report",
    "make_report",
    is_flag=True,
    help="Also write the latent-space report (RUN_DIR/report/report.html) after the summary.",
)
def run(**kw: Any) -> None:
    """Train MODEL on TASK, evaluate it beside an untrained twin, and record the result.

    Writes RUN_DIR = OUT/<task>__<model>__<reg>__s<seed>__<budget>__<config hash>/ with
    config.yaml, train_log.jsonl, model.safetensors and result.json, adds the record to the
    leaderboard and prints a summary table.

    \b
    Examples:
      jepa-bench run --model convnext_mlp --task wall_door
      jepa-bench run -m convnext_mlp -t wall_door --reg sigreg:0.09 --seed 1
      jepa-bench run -m convnext_mlp_smoke -t wall_door --budget smoke
    """
    if kw["nproc"] > 1 and "LOCAL_RANK" not in os.environ:
        _relaunch_under_torchrun(kw["nproc"])
    from jepa_bench.registry import UnknownNameError
    from jepa_bench.runner import execute_run, load_config_file
    from jepa_bench.train.loop import NonFiniteLossError

    base = load_config_file(kw["config_file"]) if kw["config_file"] else {}
    cfg = RunConfig.from_dict(base)
    ctx = click.get_current_context()
    for key in ("model", "task", "reg", "seed", "budget", "device", "out", "data_dir", "resume"):
        if key not in base or ctx.get_parameter_source(key) != click.core.ParameterSource.DEFAULT:
            setattr(cfg, key, kw[key])
    for key, attr in (
        ("steps", "steps"),
        ("batch_size", "batch_size"),
        ("lr", "lr"),
        ("window", "window"),
        ("max_minutes", "max_minutes"),
    ):
        if kw[key] is not None:
            setattr(cfg.train, attr, kw[key])
    cfg.train.compile = cfg.train.compile or kw["use_compile"]
    if kw["checkpoint_every"] is not None:
        cfg.train.checkpoint_every = kw["checkpoint_every"]
    cfg.train.keep_snapshots = cfg.train.keep_snapshots or kw["keep_snapshots"]
    cfg.model_kwargs.update(_kv(kw["model_arg"], "--model-arg"))
    cfg.task_kwargs.update(_kv(kw["task_arg"], "--task-arg"))
    if kw["no_untrained"]:
        cfg.eval.eval_untrained = False
    board = None if (kw["no_leaderboard"] or cfg.budget == "smoke") else kw["leaderboard_dir"]
    try:
        record = execute_run(cfg, progress=not kw["quiet"], leaderboard_dir=board)
    except (UnknownNameError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    except NonFiniteLossError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    if not record:  # a non-zero rank of a distributed run
        return
    click.echo("")
    click.echo(format_summary(record))
    click.echo(f"\nrun directory: {cfg.out}/{record['run_id']}")
    if board:
        click.echo(f"leaderboard: record added to {board}/, tables regenerated")
    if kw["make_report"]:
        from jepa_bench.report import build_report

        try:
            page = build_report([f"{cfg.out}/{record['run_id']}"], device=cfg.device)
        except (FileNotFoundError, ValueError) as exc:  # the run itself is complete
            raise click.ClickException(f"the run finished but its report failed: {exc}") from exc
        click.echo(f"report: {page}")
