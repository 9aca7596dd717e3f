"""Name -> factory registries for models, tasks and regularisers, and every built-in entry.

One registration style for all three: an entry is a name and a lazy ``"package.module:attr"``
target, imported on first use, so listing what exists imports no model or task code. The
built-in entries are the tables at the bottom of this file; adding a model, task or regulariser
is one file plus one line there (docs/extending.md). Installed packages add entries through the
entry point groups ``jepa_bench.models``, ``jepa_bench.tasks`` and ``jepa_bench.regularizers``;
code may also call ``MODELS.add(name, target)`` at run time.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any


class UnknownNameError(KeyError):
    """An unknown registry name; the message lists what exists and the nearest match."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def import_target(target: str) -> Any:
    """The object a ``"package.module:attr"`` string names (``attr`` may be dotted)."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """A name -> factory mapping with lazy entries, entry-point plug-ins and helpful errors."""

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        builtins: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Callable[..., Any] | str] = {}
        self._help: dict[str, str] = {}
        self._seen_entry_points: dict[str, str] = {}  # name -> target, once registered or skipped
        for name, (target, help) in (builtins or {}).items():
            self.add(name, target, help=help)

    def register(
        self, name: str, help: str = ""
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``add`` for code that registers at run time (tests, notebooks)."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(name, fn, help=help)
            return fn

        return deco

    def add(self, name: str, target: Callable[..., Any] | str, help: str = "") -> None:
        """Register ``target`` (a callable or a lazy ``"module:attr"`` string) under ``name``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if isinstance(target, str) and ":" not in target:
            raise ValueError(
                f"{self.kind} {name!r}: a lazy target is 'module:attr', got {target!r}"
            )
        existing = self._entries.get(name)
        if existing is not None and existing is not target:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = target
        if help:
            self._help[name] = help

    def remove(self, name: str) -> None:
        """Forget ``name`` (for tests and notebooks that register temporary entries)."""
        self._entries.pop(name, None)
        self._help.pop(name, None)

    def load_entry_points(self) -> list[str]:
        """Register this registry's installed entry points lazily; returns the new names.

        An entry point whose name is already taken is skipped with one warning.
        """
        if self.entry_point_group is None:
            return []
        added = []
        for ep in metadata.entry_points(group=self.entry_point_group):
            if self._seen_entry_points.get(ep.name) == ep.value:
                continue
            self._seen_entry_points[ep.name] = ep.value
            if ep.name in self._entries:
                warnings.warn(
                    f"entry point {ep.name!r} = {ep.value!r} of group {self.entry_point_group!r} "
                    f"is skipped: a {self.kind} of that name is already registered",
                    stacklevel=2,
                )
                continue
            self.add(ep.name, ep.value, help=f"plug-in from entry point {ep.value}")
            added.append(ep.name)
        return added

    def get(self, name: str) -> Callable[..., Any]:
        """Return the factory registered under ``name`` (importing a lazy entry)."""
        if name not in self._entries:
            self.load_entry_points()
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        target = self._entries[name]
        if isinstance(target, str):
            target = import_target(target)
            self._entries[name] = target
        return target

    def unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.4)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(names)}"

    def help(self, name: str) -> str:
        """The entry's one-line description (from its registration, else its docstring)."""
        if name not in self._help and name in self._entries:
            doc = (getattr(self.get(name), "__doc__", None) or "").strip()
            self._help[name] = doc.splitlines()[0] if doc else ""
        return self._help.get(name, "")

    def names(self) -> list[str]:
        self.load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self.load_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


# ---- the built-in entries: name -> ("module:attr", one-line help) ----------------------------

BUILTIN_MODELS: dict[str, tuple[str, str]] = {
    "convnext_mlp": (
        "jepa_bench.models.convnext_mlp:CONVNEXT_MLP",
        "two-branch ConvNeXt encoder + MLP predictor (293,344 params on wall_door)",
    ),
    "convnext_mlp_smoke": (
        "jepa_bench.models.convnext_mlp:CONVNEXT_MLP_SMOKE",
        "a tiny convnext_mlp for tests",
    ),
    "lewm": (
        "jepa_bench.models.lewm.presets:LEWM",
        "LeWM reference: ViT-tiny/14 at 224 px + AdaLN-zero predictor (~18 M params)",
    ),
    "lewm_cpu": (
        "jepa_bench.models.lewm.presets:LEWM_CPU",
        "LeWM sized for a 2-core CPU (65 px, patch 13, 4 ViT layers)",
    ),
    "lewm_smoke": ("jepa_bench.models.lewm.presets:LEWM_SMOKE", "a tiny LeWM for tests"),
}
BUILTIN_TASKS: dict[str, tuple[str, str]] = {
    "wall_door": (
        "jepa_bench.data.wall_door.task:wall_door",
        "2-D agent in a 65x65 two-room world with a wall and a door (DL25SP spec)",
    ),
    "koch_pick_place": (
        "jepa_bench.data.robot.koch:koch_pick_place",
        "Koch arm pick-and-place recordings from a LeWM HDF5 file or a LeRobot folder",
    ),
    "arm_sim": (
        "jepa_bench.data.robot.arm_sim.task:arm_sim",
        "Simulated 6-joint arm doing pick-and-place (offline; LeRobot v3.0 -> HDF5)",
    ),
}
BUILTIN_REGULARIZERS: dict[str, tuple[str, str]] = {
    "vicreg": (
        "jepa_bench.regularizers.vicreg:VICReg",
        "VICReg: invariance / variance / covariance, coefficients 25 / 25 / 1",
    ),
    "sigreg": (
        "jepa_bench.regularizers.sigreg:SIGReg",
        "SIGReg: Epps-Pulley test of random 1-D projections against N(0, 1) (LeWM)",
    ),
    "bias_free": (
        "jepa_bench.regularizers.bias_free:BiasFree",
        "bias-free model: drop biases of linear, conv and norm layers (no loss terms)",
    ),
    "none": (
        "jepa_bench.regularizers.none:NoRegularizer",
        "no regulariser: plain prediction MSE only (the collapse-prone baseline)",
    ),
}

MODELS = Registry("model", "jepa_bench.models", BUILTIN_MODELS)
TASKS = Registry("task", "jepa_bench.tasks", BUILTIN_TASKS)
REGULARIZERS = Registry("regularizer", "jepa_bench.regularizers", BUILTIN_REGULARIZERS)
