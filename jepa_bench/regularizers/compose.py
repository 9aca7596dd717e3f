"""Parse ``--reg`` strings such as ``vicreg``, ``sigreg:0.09`` or ``sigreg:0.5+bias_free``.

Grammar: parts joined by ``+``; each part is ``name`` or ``name:settings`` where settings are
comma-separated ``key=value`` pairs, and a bare number sets the overall ``weight``
(``sigreg:0.5`` = ``sigreg:weight=0.5``). A value is an integer, a float, ``true``/``false``, or a
stage-wise schedule ``value@start;value@start`` (``;`` since ``,`` separates keys), e.g.
``vicreg:invariance=25@0;50@0.8,covariance=2``. Each name may appear once.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import torch

from jepa_bench.registry import REGULARIZERS
from jepa_bench.regularizers.base import Objective, Regularizer, Schedule

_INT = re.compile(r"[+-]?\d+")


def parse_reg(spec: str) -> list[tuple[str, dict[str, object]]]:
    """Split a composition into (name, kwargs) pairs; raises ValueError naming any bad text."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(
            f"empty regulariser spec {spec!r}; try e.g. 'vicreg' or 'sigreg+bias_free'"
        )
    out: list[tuple[str, dict[str, object]]] = []
    for part in spec.split("+"):
        part = part.strip()
        if not part:
            raise ValueError(f"empty regulariser between '+' in {spec!r}")
        name, _, rest = (s.strip() for s in part.partition(":"))
        if not name:
            raise ValueError(f"missing regulariser name in {part!r}")
        if any(n == name for n, _ in out):
            raise ValueError(f"regulariser {name!r} appears twice in {spec!r}")
        kwargs: dict[str, object] = {}
        for item in rest.split(","):
            item = item.strip()
            if not item:
                if rest:
                    raise ValueError(f"empty setting in {part!r}")
                continue
            key, eq, value = (s.strip() for s in item.partition("="))
            if not eq:
                key, value = "weight", item
            if not key.isidentifier():
                raise ValueError(f"bad setting name {key!r} in {part!r}")
            if key in kwargs:
                raise ValueError(f"setting {key!r} given twice in {part!r}")
            kwargs[key] = _value(value, key, part)
        out.append((name, kwargs))
    return out


def _value(text: str, key: str, part: str) -> object:
    """A setting's value: int, float, bool or schedule string; ValueError names the bad text."""
    if "@" in text:
        schedule = text.replace(";", ",")
        try:
            Schedule.parse(schedule)
        except ValueError as err:
            raise ValueError(f"bad schedule {text!r} for {key!r} in {part!r}: {err}") from None
        return schedule
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text.lower() not in ("nan", "inf"):
        return text  # a word setting (e.g. vicreg:on=pred); the regulariser validates it
    if _INT.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"bad value {text!r} for {key!r} in {part!r}: expected a finite number, true/false, "
            "a word, or a schedule such as 25@0;50@0.8"
        )
    return value


def _accepted(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names the factory accepts, or None when it takes ``**kwargs``."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def build_regularizers(spec: str, seed: int | None = None) -> list[Regularizer]:
    """Instantiate every regulariser of a composition (unknown names list the known ones).

    ``seed`` (the run seed) goes to every regulariser that takes one and was not given one.
    """
    regs = []
    for name, kwargs in parse_reg(spec):
        factory = REGULARIZERS.get(name)
        accepted = _accepted(factory)
        if accepted is not None:
            unknown = sorted(set(kwargs) - accepted)
            if unknown:
                raise ValueError(
                    f"regulariser {name!r} has no setting {unknown[0]!r}; "
                    f"settings: {', '.join(sorted(accepted - {'generator', 'reduce'})) or 'none'}"
                )
            if seed is not None and "seed" in accepted:
                kwargs.setdefault("seed", int(seed))
        try:
            regs.append(factory(**kwargs))
        except ValueError as err:
            raise ValueError(f"regulariser {name!r} in {spec!r}: {err}") from None
    return regs


def build_objective(spec: str, seed: int | None = None) -> Objective:
    """The training objective for a ``--reg`` string."""
    return Objective(build_regularizers(spec, seed=seed))


def describe_reg(spec: str, seed: int | None = None) -> dict[str, dict[str, object]]:
    """The resolved config of every part, by name, in order (for the run's config dump).

    Pass the run seed to see the seeds the run uses; torch's global RNG is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        regs = build_regularizers(spec, seed=seed)
    return {reg.name: reg.config() for reg in regs}


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.replace(",", ";")  # a schedule keeps ';' between stages
    return repr(value)


def canonical_reg(spec: str, seed: int | None = None) -> str:
    """One spelling per composition, so equal compositions hash equally.

    Whitespace and empty settings go (``"vicreg:"`` -> ``"vicreg"``), settings are sorted, a
    lone weight is written bare (``sigreg:weight=0.5`` -> ``sigreg:0.5``). Every part is built
    once, so an unknown name or setting raises here, before a run starts.
    """
    build_regularizers(spec, seed=seed)
    parts = []
    for name, kwargs in parse_reg(spec):
        if set(kwargs) == {"weight"}:
            parts.append(f"{name}:{_format_value(kwargs['weight'])}")
        elif kwargs:
            items = ",".join(f"{k}={_format_value(v)}" for k, v in sorted(kwargs.items()))
            parts.append(f"{name}:{items}")
        else:
            parts.append(name)
    return "+".join(parts)
