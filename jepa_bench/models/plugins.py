"""Resolve a ``--model`` name to a factory: registered, plugged in by path or module, or installed.

A model name is one of:

- a registered name (``convnext_mlp``; ``jepa-bench list models``);
- ``path/to/file.py:factory``: the file is imported on its own (it need not be on ``sys.path``);
  a relative path is resolved against the current directory;
- ``package.module:factory``: an importable module (installed, or on ``PYTHONPATH``);
- the name of an entry point of group ``jepa_bench.models`` of an installed package, declared in
  its ``pyproject.toml`` as ``[project.entry-points."jepa_bench.models"]`` then
  ``my_model = "my_pkg.models:make"``.

A factory is called as ``factory(spec: TaskSpec, **model_kwargs)`` and returns a model that
follows ``jepa_bench.models.protocol`` (see docs/models.md).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jepa_bench.record.io import file_sha256
from jepa_bench.registry import MODELS, UnknownNameError

PLUGIN_PREFIX = "jepa_bench_plugin_"  # prefix of the module names given to imported files


class PluginError(ValueError):
    """A plugged-in model that cannot be found or imported; the message says which and why."""


def _get_attr(module: Any, dotted: str, where: str) -> Callable[..., Any]:
    obj = module
    for part in dotted.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))
            raise PluginError(
                f"{where} has no attribute {dotted!r}; it defines: {', '.join(public) or 'nothing'}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise PluginError(f"{where}:{dotted} is a {type(obj).__name__}, not a callable factory")
    return obj


def import_file(path: str | Path) -> Any:
    """Import a Python file as a module (once per absolute path) without touching ``sys.path``."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise PluginError(
            f"model file {str(path)!r} not found (relative paths are resolved against the current "
            f"directory {Path.cwd()})"
        )
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", file.stem)
    name = f"{PLUGIN_PREFIX}{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise PluginError(f"{file} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up while it executes
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise PluginError(f"importing model file {file} failed: {type(e).__name__}: {e}") from e
    return module


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and name.split(".")[0] == e.name.split(".")[0]:
            raise PluginError(
                f"module {name!r} not found: install its package, add its folder to PYTHONPATH, "
                "or give the file instead (path/to/file.py:factory)"
            ) from e
        raise PluginError(f"importing module {name!r} failed: {e}") from e
    except Exception as e:
        raise PluginError(f"importing module {name!r} failed: {type(e).__name__}: {e}") from e


def is_plugin_name(name: str) -> bool:
    """Whether ``name`` is a ``file.py:factory`` or ``module:factory`` reference."""
    return ":" in name and name not in MODELS


def _is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _split(name: str) -> tuple[str, str]:
    if not isinstance(name, str) or not name.strip():
        raise PluginError(f"a model name must be a non-empty string, got {name!r}")
    if ":" not in name:
        raise UnknownNameError(
            MODELS.unknown_message(name)
            + ". A model of your own: path/to/file.py:factory or package.module:factory"
        )
    target, _, attr = name.rpartition(":")  # rpartition: Windows paths contain ':' too
    if not target or not attr:
        raise PluginError(
            f"bad model reference {name!r}: expected file.py:factory or module:factory"
        )
    return target, attr


def _file_of(target: str, base: Path | None) -> Path:
    """A plug-in file: relative to ``base`` (a record's folder) when it is there, else to the
    current directory."""
    path = Path(target).expanduser()
    if not path.is_absolute() and base is not None and (base / path).is_file():
        return (base / path).resolve()
    return path.resolve()


def source_file(name: str, base: Path | None = None) -> Path | None:
    """The source file a non-built-in model comes from, found without importing it (None for a
    built-in model or when it cannot be told)."""
    from jepa_bench.registry import BUILTIN_MODELS

    if name in BUILTIN_MODELS:
        return None
    if name in MODELS:  # an entry point: its lazy "module:attr", or the factory itself
        try:
            return Path(inspect.getsourcefile(MODELS.get(name)) or "")
        except TypeError:
            return None
    target, _ = _split(name)
    if _is_file_target(target):
        return _file_of(target, base)
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def resolve_model(
    name: str, base: Path | None = None, expect_sha256: str | None = None
) -> Callable[..., Any]:
    """The factory for a registered name, an entry point, ``file.py:attr`` or ``module:attr``.

    ``base``: a record's folder, searched first for a relative ``file.py``. ``expect_sha256``:
    the recorded hash of the model's source file; a file that differs is refused *before* it is
    imported, so a record never runs code other than the code it was made with.
    """
    if expect_sha256 is not None:
        source = source_file(name, base)
        if source is None or not source.is_file():
            raise PluginError(f"model {name!r}: its source file was not found (looked in {base})")
        if file_sha256(source) != expect_sha256:
            raise PluginError(
                f"model {name!r}: {source} is not the file the run was made with "
                "(its sha256 differs from the record's model_sha256); refusing to import it"
            )
    if name in MODELS:  # registered, built-in or from an installed entry point
        return MODELS.get(name)
    target, attr = _split(name)
    if _is_file_target(target):
        return _get_attr(import_file(_file_of(target, base)), attr, target)
    return _get_attr(_import_module(target), attr, target)


def model_slug(name: str) -> str:
    """A file-name-safe form of a model name (``examples/tiny.py:make`` -> ``tiny.make``)."""
    if is_plugin_name(name):
        target, _, attr = name.rpartition(":")
        stem = Path(target).stem if target.endswith(".py") else target
        name = f"{stem}.{attr}"
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", name).strip("-.") or "model"
