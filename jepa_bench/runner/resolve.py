"""The one resolution step: a run request (preset file + flags) -> a frozen, validated RunConfig.

A request is a partial nested mapping of ``RunConfig`` fields, e.g. ``{"model": "lewm_cpu",
"train": {"steps": 100}}``. Every training setting is filled in this order, later winning:

1. ``config.GENERIC_TRAIN`` (for models that declare nothing);
2. the model preset's ``train`` (``models.preset.ModelPreset``);
3. the budget row: the preset's own for this budget, else ``config.BUDGETS[budget].train``;
4. the request.

Evaluator settings come from ``config.BUDGETS[budget].eval``, then the request. A ``None`` in the
request means "not given", except for the settings where ``None`` is a value of its own
(``NULLABLE``). Nothing is built and nothing is written here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from jepa_bench.config import (
    BOOL_TEXT,
    BUDGET_NAMES,
    BUDGETS,
    FLOAT_TEXT,
    GENERIC_REG,
    GENERIC_TRAIN,
    INT_TEXT,
    ConfigError,
    EvalConfig,
    PlanConfig,
    RunConfig,
    TrainConfig,
    check_choice,
    check_keys,
    parse_scalar,
)
from jepa_bench.models.plugins import resolve_model, source_file
from jepa_bench.models.preset import ModelPreset, factory_kwargs
from jepa_bench.record.io import file_sha256
from jepa_bench.registry import UnknownNameError
from jepa_bench.regularizers.compose import canonical_reg

#: Settings whose ``None`` means something (no limit, every window, the default cache).
NULLABLE = frozenset(
    {
        "data_dir",
        "model_sha256",
        "train.max_minutes",
        "eval.max_eval_windows",
        "eval.plan.max_minutes",
    }
)
SECTIONS: dict[str, type] = {"train": TrainConfig, "eval": EvalConfig, "eval.plan": PlanConfig}


def _given(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The entries of a request section that were given (``None`` counts only where nullable)."""
    prefix = "" if where == "config" else f"{where}."
    return {k: v for k, v in d.items() if v is not None or f"{prefix}{k}" in NULLABLE}


def check_request(request: Any) -> None:
    """Raise ``ConfigError`` naming the first unknown key at any level of the request."""
    check_keys(RunConfig, request, "config")
    for section, cls in SECTIONS.items():
        sub: Any = request
        for part in section.split("."):
            sub = sub.get(part) if isinstance(sub, Mapping) else None
        if sub is not None:
            check_keys(cls, sub, section)


def model_factory(name: str) -> Callable[..., Any]:
    """The factory of a model name; ``ConfigError('model', ...)`` when there is none."""
    try:
        return resolve_model(name)
    except (UnknownNameError, ValueError) as e:
        raise ConfigError("model", str(e)) from None


def model_source_sha256(name: str) -> str | None:
    """The sha256 of a plug-in model's source file (None for built-in models).

    It is part of the config, so a changed model file never reuses an earlier run's results,
    and a record is never re-evaluated with code other than its own.
    """
    source = source_file(name)
    return file_sha256(source) if source is not None and source.is_file() else None


def _check_model_kwargs(name: str, factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    accepted = factory_kwargs(factory)
    if accepted is None:
        return
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(
                f"model_kwargs.{key}",
                f"model {name!r} has no argument {key!r}; its arguments: "
                f"{', '.join(sorted(accepted)) or 'none'}",
            )


def train_defaults(factory: Callable[..., Any], budget: str) -> dict[str, Any]:
    """Training settings of a model at a budget before the request: steps 1-3 above."""
    preset = factory if isinstance(factory, ModelPreset) else None
    out = {**GENERIC_TRAIN, **(preset.train if preset else {})}
    own = preset.budgets.get(budget) if preset else None
    out.update(own if own is not None else BUDGETS[budget].train)
    return out


def resolve(request: Mapping[str, Any] | None = None) -> RunConfig:
    """Fill every setting of ``request`` (see the module docstring); raises ``ConfigError``."""
    request = dict(request or {})
    check_request(request)
    top = _given(request, "config")
    budget = check_choice("budget", top.get("budget", "default"), BUDGET_NAMES)
    model = top.get("model", RunConfig.model)
    if not isinstance(model, str):
        raise ConfigError("model", f"must be a model name, got {model!r}")
    factory = model_factory(model)
    model_kwargs = top.get("model_kwargs") or {}
    if not isinstance(model_kwargs, Mapping):
        raise ConfigError(
            "model_kwargs", f"must be a mapping of names to values, got {model_kwargs!r}"
        )
    model_kwargs = dict(model_kwargs)
    _check_model_kwargs(model, factory, model_kwargs)
    preset = factory if isinstance(factory, ModelPreset) else None

    train = {**train_defaults(factory, budget), **_given(top.get("train") or {}, "train")}
    eval_req = dict(top.get("eval") or {})
    plan = _given(eval_req.pop("plan", None) or {}, "eval.plan")
    evals = {**BUDGETS[budget].eval, **_given(eval_req, "eval"), "plan": plan}

    reg = top.get("reg") or (preset.reg if preset and preset.reg else GENERIC_REG)
    seed = top.get("seed", 0)
    try:
        reg = canonical_reg(reg, seed=seed if isinstance(seed, int) else None)
    except (UnknownNameError, ValueError) as e:
        raise ConfigError("reg", str(e)) from None
    fields = {k: v for k, v in top.items() if k not in ("train", "eval")}
    fields.update(
        budget=budget,
        reg=reg,
        model_kwargs=model_kwargs,
        model_sha256=model_source_sha256(model),
        train=TrainConfig(**train),
        eval=EvalConfig(**evals),
    )
    return RunConfig(**fields)


class PresetLoader(yaml.SafeLoader):
    """YAML whose plain scalars follow ``config.parse_scalar``, the rule of ``--model-arg``:
    ``010`` is ten and ``1e-3`` a float (YAML 1.1 made them 8 and a string), ``yes`` a string."""


_TAG = "tag:yaml.org,2002:"
_REPLACED = tuple(_TAG + kind for kind in ("bool", "int", "float", "timestamp"))  # dates: strings
PresetLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in rules if tag not in _REPLACED]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _kind, _rule, _first in (
    ("bool", BOOL_TEXT, "tTfF"),
    ("int", INT_TEXT, "+-0123456789"),
    ("float", FLOAT_TEXT, "+-.0123456789"),
):
    PresetLoader.add_implicit_resolver(
        _TAG + _kind, re.compile(f"^(?:{_rule.pattern})$"), list(_first)
    )


def _scalar_text(loader: Any, node: yaml.Node) -> str:
    return str(loader.construct_scalar(cast(yaml.ScalarNode, node)))


PresetLoader.add_constructor(_TAG + "bool", lambda ld, n: parse_scalar(_scalar_text(ld, n)))
PresetLoader.add_constructor(_TAG + "int", lambda ld, n: int(_scalar_text(ld, n), 10))
PresetLoader.add_constructor(_TAG + "float", lambda ld, n: float(_scalar_text(ld, n)))


def read_preset(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON preset file (e.g. one of ``baselines/``) as a request mapping.

    Raises ``ConfigError`` (key ``--config``) naming the file when it is unreadable, not valid
    YAML/JSON, or not a mapping. Scalars are read as flags are (``PresetLoader``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, PresetLoader)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
        raise ConfigError("--config", f"{path}: cannot be read as a preset ({e})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "--config", f"{path}: expected a mapping of run settings, got {type(data).__name__}"
        )
    return data
