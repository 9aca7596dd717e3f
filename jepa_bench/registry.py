"""Name -> factory registries for models, tasks and regularisers.

Entries register themselves with ``@MODELS.register("name")``. Entries whose module has optional
dependencies can be registered lazily as ``"package.module:attr"`` strings, imported on first use.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any


class UnknownNameError(KeyError):
    """An unknown registry name; the message lists what exists and the nearest match."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class Registry:
    """A tiny name -> factory mapping with helpful errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., Any] | str] = {}
        self._help: dict[str, str] = {}

    def register(
        self, name: str, help: str = ""
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``fn`` under ``name``; a duplicate name is an error."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            doc = (fn.__doc__ or "").strip()
            self.add(name, fn, help=help or (doc.splitlines()[0] if doc else ""))
            return fn

        return deco

    def add(self, name: str, target: Callable[..., Any] | str, help: str = "") -> None:
        """Register ``target`` (a callable or a lazy ``"module:attr"`` string) under ``name``."""
        existing = self._entries.get(name)
        if existing is not None and existing is not target:
            # a lazy "module:attr" entry and the callable it names are the same entry
            if isinstance(target, str) and callable(existing):
                return
            if not (isinstance(existing, str) and callable(target)):
                raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = target
        if help:
            self._help[name] = help

    def get(self, name: str) -> Callable[..., Any]:
        """Return the factory registered under ``name`` (importing a lazy entry)."""
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target

    def unknown_message(self, name: str) -> str:
        names = sorted(self._entries)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.4)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(names)}"

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


MODELS = Registry("model")
TASKS = Registry("task")
REGULARIZERS = Registry("regularizer")


def load_builtins() -> None:
    """Import the built-in model, task and regulariser modules so they register themselves.

    Models of installed packages (entry point group ``jepa_bench.models``) are registered too.
    """
    for module in ("jepa_bench.models", "jepa_bench.data.catalog", "jepa_bench.regularizers"):
        importlib.import_module(module)
    importlib.import_module("jepa_bench.models.plugins").load_entry_points()
