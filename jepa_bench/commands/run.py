"""``jepa-bench run``: train one model on one task, evaluate it beside its untrained twin.

Each config flag maps onto one field of the request that ``jepa_bench.runner.resolve`` turns into
the run's config (``CONFIG_FLAGS``); a flag given on the command line wins over ``--config``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from jepa_bench.commands.options import InputError, parse_pairs
from jepa_bench.config import BUDGET_NAMES, BUDGETS, ConfigError


@dataclass(frozen=True)
class Flag:
    """A command-line option and the request field it sets."""

    name: str  # "--steps"
    key: str  # "train.steps"
    help: str
    type: Any = None  # a click type; None: a string
    flag_value: Any = None  # set for on/off flags: the value the flag puts in the request
    short: str | None = None


TASK_DATA_EXIT = 4  # the task's data could not be made (docs/errors.md)

_BUDGET_HELP = "; ".join(f"{name}: {row.summary}" for name, row in BUDGETS.items())

CONFIG_FLAGS: tuple[Flag, ...] = (
    Flag("--model", "model", "Model: a registered name (`jepa-bench list models`), "
         "path/to/file.py:factory or package.module:factory. [default: convnext_mlp]",
         short="-m"),
    Flag("--task", "task", "Task (`jepa-bench list tasks`). [default: wall_door]", short="-t"),
    Flag("--reg", "reg", "Regulariser composition, e.g. vicreg, sigreg:0.09, sigreg+bias_free. "
         "[default: the model's own]", short="-r"),
    Flag("--seed", "seed", "Run seed (>= 0). [default: 0]", type=int, short="-s"),
    Flag("--budget", "budget", f"{_BUDGET_HELP}. [default: default]",
         type=click.Choice(BUDGET_NAMES), short="-b"),
    Flag("--device", "device", "auto = CUDA when available. [default: auto]",
         type=click.Choice(["auto", "cpu", "cuda"])),
    Flag("--out", "out", "Parent directory of run directories. [default: runs]", short="-o"),
    Flag("--data-dir", "data_dir", "Cache / data directory of the task "
         "[default: $JEPA_BENCH_CACHE or ~/.cache/jepa-bench]."),
    Flag("--steps", "train.steps", "Training steps. [default: the model's for the budget]",
         type=int),
    Flag("--batch-size", "train.batch_size", "Batch size. [default: the model's]", type=int),
    Flag("--lr", "train.lr", "Learning rate. [default: the model's]", type=float),
    Flag("--window", "train.window", "Frames per training sample, cropped from each task window "
         "at a seeded random offset (0: whole windows). [default: 0]", type=int),
    Flag("--max-minutes", "train.max_minutes", "Also stop training after this many minutes "
         "(results then depend on the machine).", type=float),
    Flag("--compile", "train.compile", "Use torch.compile for the train step.", flag_value=True),
    Flag("--checkpoint-every", "train.checkpoint_every", "Save a resumable checkpoint every N "
         "steps. [default: only at the end]", type=int),
    Flag("--keep-snapshots", "train.keep_snapshots", "Keep model_step<N>.safetensors at every "
         "checkpoint (compared in reports).", flag_value=True),
    Flag("--resume", "resume", "Continue an interrupted run with the same config.",
         flag_value=True),
    Flag("--no-untrained", "eval.eval_untrained", "Skip evaluating the untrained twin.",
         flag_value=False),
)  # fmt: skip
FLAG_OF_KEY = {f.key: f.name for f in CONFIG_FLAGS} | {
    "model_kwargs": "--model-arg",
    "task_kwargs": "--task-arg",
}


def _apply(flags: tuple[Flag, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one click option per flag (in order) to a command."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for f in reversed(flags):
            names = [f.name, f.short] if f.short else [f.name]
            dest = f.name.lstrip("-").replace("-", "_")
            if f.flag_value is not None:
                fn = click.option(*names, dest, is_flag=True, default=None, help=f.help)(fn)
            else:
                fn = click.option(*names, dest, type=f.type, default=None, help=f.help)(fn)
        return fn

    return deco


def set_key(request: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted ``key`` (``train.steps``) in a nested request mapping."""
    *parents, leaf = key.split(".")
    node = request
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(part, f"must be a mapping of settings, got {node!r}")
    node[leaf] = value


def build_request(preset: dict[str, Any], kw: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The request: the preset with every given flag on top; also the keys flags set."""
    request = {k: (dict(v) if isinstance(v, dict) else v) for k, v in preset.items()}
    given = set()
    for f in CONFIG_FLAGS:
        value = kw[f.name.lstrip("-").replace("-", "_")]
        if value is None:
            continue
        set_key(request, f.key, f.flag_value if f.flag_value is not None else value)
        given.add(f.key)
    for key, flag in (("model_kwargs", "model_arg"), ("task_kwargs", "task_arg")):
        pairs = parse_pairs(kw[flag], FLAG_OF_KEY[key])
        if pairs:
            before = request.get(key) or {}
            if not isinstance(before, dict):
                raise ConfigError(key, f"must be a mapping of names to values, got {before!r}")
            request[key] = {**before, **pairs}
            given.add(key)
    return request, given


def config_error(exc: ConfigError, given: set[str]) -> click.ClickException:
    """A usage error naming the flag that set the bad value (else the config key)."""
    key = (
        exc.key.split(".", 1)[0] if exc.key.startswith(("model_kwargs", "task_kwargs")) else exc.key
    )
    if key in given and key in FLAG_OF_KEY:
        return click.BadParameter(str(exc), param_hint=FLAG_OF_KEY[key])
    return click.UsageError(str(exc))


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
    untrained = record.get("untrained_metrics") or {}
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
@_apply(CONFIG_FLAGS)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="YAML/JSON preset of run settings (e.g. a file in baselines/); flags win.",
)
@click.option("--model-arg", multiple=True, metavar="KEY=VALUE", help="Model factory argument.")
@click.option("--task-arg", multiple=True, metavar="KEY=VALUE", help="Task factory argument.")
@click.option(
    "--leaderboard-dir",
    default=None,
    help="Also add the record to this leaderboard folder and regenerate its tables.",
)
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
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
    config.yaml (the resolved settings), train_log.jsonl, model.safetensors and result.json,
    and prints a summary table. Settings are resolved and checked before anything is written.

    \b
    Examples:
      jepa-bench run --model convnext_mlp --task wall_door
      jepa-bench run -m convnext_mlp -t wall_door --reg sigreg:0.09 --seed 1
      jepa-bench run --config baselines/wall_door__lewm_cpu__sigreg.yaml --steps 100
    """
    if kw["nproc"] > 1 and "LOCAL_RANK" not in os.environ:
        _relaunch_under_torchrun(kw["nproc"])
    from jepa_bench.data.base import TaskDataError
    from jepa_bench.leaderboard.lock import LeaderboardBusy
    from jepa_bench.models.check import ModelCheckError
    from jepa_bench.runner import RunDirError, execute_run, read_preset, resolve
    from jepa_bench.train.checkpoint import CheckpointError
    from jepa_bench.train.loop import NonFiniteLossError
    from jepa_bench.train.memory import tune_malloc

    given: set[str] = set()
    try:
        preset = read_preset(kw["config_file"]) if kw["config_file"] else {}
        request, given = build_request(preset, kw)
        cfg = resolve(request)
        tune_malloc()  # this process is ours: keep activation memory between steps (CPU)
        record = execute_run(cfg, progress=not kw["quiet"], leaderboard_dir=kw["leaderboard_dir"])
    except ConfigError as exc:
        raise config_error(exc, given) from exc
    except ModelCheckError as exc:
        raise click.UsageError(str(exc)) from exc
    except (CheckpointError, RunDirError) as exc:
        raise InputError(str(exc)) from exc
    except NonFiniteLossError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except TaskDataError as exc:  # before the run directory exists: nothing was written
        click.echo(f"error: the task's data could not be made: {exc}", err=True)
        sys.exit(TASK_DATA_EXIT)
    except (FileExistsError, LeaderboardBusy) as exc:  # --leaderboard-dir: the run itself is done
        raise click.ClickException(
            f"the run finished, but its record was not added to {kw['leaderboard_dir']}: {exc}"
        ) from exc
    if not record:  # a non-zero rank of a distributed run
        return
    click.echo("")
    click.echo(format_summary(record))
    click.echo(f"\nrun directory: {cfg.out}/{record['run_id']}")
    if kw["leaderboard_dir"]:
        click.echo(f"leaderboard: record added to {kw['leaderboard_dir']}/, tables regenerated")
    if kw["make_report"]:
        from jepa_bench.report import build_report

        try:
            page = build_report([f"{cfg.out}/{record['run_id']}"], device=cfg.device)
        except (FileNotFoundError, ValueError) as exc:  # the run itself is complete
            raise click.ClickException(f"the run finished but its report failed: {exc}") from exc
        click.echo(f"report: {page}")
