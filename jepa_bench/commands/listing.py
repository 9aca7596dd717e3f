"""``jepa-bench list``: what is registered."""

from __future__ import annotations

import click


@click.command("list")
@click.argument("kind", type=click.Choice(["models", "tasks", "regularizers"]))
def list_cmd(kind: str) -> None:
    """List registered models, tasks or regularizers with a one-line description."""
    from jepa_bench.registry import MODELS, REGULARIZERS, TASKS

    reg = {"models": MODELS, "tasks": TASKS, "regularizers": REGULARIZERS}[kind]
    names = reg.names()
    width = max(map(len, names), default=0)
    for name in names:
        click.echo(f"{name.ljust(width)}  {reg.help(name)}".rstrip())
