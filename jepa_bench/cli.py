"""The ``jepa-bench`` command line. Subcommands live beside the code they drive and load lazily."""

from __future__ import annotations

import importlib

import click

# name -> ("module:attr" of a click command, one-line help); imported only when used.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("jepa_bench.commands.run:run", "Train a model on a task and record the result."),
    "list": (
        "jepa_bench.commands.listing:list_cmd",
        "List registered models, tasks, regularizers.",
    ),
    "leaderboard": (
        "jepa_bench.commands.leaderboard:leaderboard",
        "Regenerate leaderboard tables.",
    ),
    "ablate": ("jepa_bench.commands.ablate:ablate", "Run regulariser x seed grids; mean +- std."),
    "convert": ("jepa_bench.commands.convert:convert", "Convert a LeRobot dataset to HDF5."),
    "inspect": ("jepa_bench.commands.convert:inspect", "Validate and summarise an HDF5 dataset."),
    "plan": ("jepa_bench.commands.plan:plan", "Plan with a run's model (CEM); success rates."),
    "submit": ("jepa_bench.commands.submit:submit", "Check a run and add it to the leaderboard."),
    "verify": ("jepa_bench.commands.submit:verify", "Re-evaluate a record; compare every metric."),
    "report": (
        "jepa_bench.commands.report:report",
        "HTML report: latent-space figures and a verdict.",
    ),
    "rescore": (
        "jepa_bench.commands.rescore:rescore",
        "Evaluate recorded checkpoints again under today's evaluation protocol.",
    ),
    "migrate": (
        "jepa_bench.commands.migrate:migrate",
        "Re-key old records and run directories under today's config hash.",
    ),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS:
            module, _, attr = SUBCOMMANDS[name][0].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in sorted(SUBCOMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jepa-bench")
def main() -> None:
    """Train, compare and diagnose small JEPA world models.

    \b
    Quick start:
      jepa-bench run --model convnext_mlp --task wall_door
      jepa-bench list models
      jepa-bench leaderboard
    Every command explains itself with --help.
    """
