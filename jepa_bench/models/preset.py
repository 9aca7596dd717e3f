"""A registered model: a family's constructor, its architecture and its training defaults.

``ModelPreset`` is what a model entry of the registry names. Calling it builds the model
(``preset(spec, **overrides)`` = ``build(spec, **{**arch, **overrides})``); its ``train`` and
``budgets`` are the defaults that run-config resolution (``jepa_bench.runner.resolve``) fills in
between the generic budget table and the user's flags. A plain factory function works as a model
too; it then trains with the generic defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from jepa_bench.data.base import TaskSpec


@dataclass(frozen=True)
class ModelPreset:
    """A model family at one size, with the training settings that suit it.

    ``task_arch``: architecture arguments for one task (by ``TaskSpec.name``) over ``arch``, for
    settings that fit one kind of frame and not another; a run's own model arguments override
    both. ``train``: ``TrainConfig`` fields for every budget; ``budgets``: per-budget rows that
    replace the generic budget row (``jepa_bench.config.BUDGETS``); ``reg``: the default
    regulariser.
    """

    build: Callable[..., nn.Module]
    arch: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    budgets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reg: str | None = None
    task_arch: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __call__(self, spec: TaskSpec, **overrides: Any) -> nn.Module:
        return self.build(spec, **{**self.arch_for(spec.name), **overrides})

    def arch_for(self, task: str) -> dict[str, Any]:
        """The architecture arguments a model for ``task`` is built with, before a run's own."""
        return {**self.arch, **self.task_arch.get(task, {})}


def factory_kwargs(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names a model factory accepts after ``spec`` (None: it takes ``**kwargs``)."""
    target = factory.build if isinstance(factory, ModelPreset) else factory
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: cannot tell
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return set(names[1:])  # the first is the task spec
