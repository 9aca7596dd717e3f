"""Parsing shared by the commands: ``KEY=VALUE`` options with plain, predictable values."""

from __future__ import annotations

import json
from typing import Any

import click

from jepa_bench.config import parse_scalar


class InputError(click.ClickException):
    """Bad input that is not a single option (a file, a checkpoint): one line, exit status 2."""

    exit_code = 2


def parse_value(text: str) -> Any:
    """``true``/``false`` -> bool, ``null`` -> None, decimal integers and floats -> numbers
    (``010`` is ten, ``1e-3`` a float), ``[...]``/``{...}`` -> JSON, anything else a string."""
    if text.strip().lower() in ("null", "none"):
        return None
    value = parse_scalar(text)
    if value is not text:
        return value
    if text.strip()[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{text!r} looks like JSON but is not valid JSON ({e})") from None
    return text


def parse_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict; a malformed one is a usage error naming ``flag``."""
    out: dict[str, Any] = {}
    for item in pairs:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key.isidentifier():
            raise click.BadParameter(f"expected KEY=VALUE with a name as KEY, got {item!r}",
                                     param_hint=flag)  # fmt: skip
        if key in out:
            raise click.BadParameter(f"{key!r} is given twice", param_hint=flag)
        try:
            out[key] = parse_value(value)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint=flag) from None
    return out
