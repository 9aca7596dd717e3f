"""Run configuration: the budget table and the frozen, validated dataclasses a run is made of.

A run starts as a *request* (a preset file and command-line flags, a partial nested mapping),
and ``jepa_bench.runner.resolve`` turns it into one ``RunConfig`` with every field filled: the
generic budget row (``BUDGETS``), then the model preset's defaults and budget row, then the
request. The resolved config is what a run dumps (config.yaml), hashes (``RunConfig.hash``, the
hash in the run directory's name and the record's ``config_hash``) and records.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args

from jepa_bench.record.schema import hash_config

Budget = Literal["smoke", "default", "full"]


@dataclass(frozen=True)
class BudgetRow:
    """What a budget means: generic training settings and the evaluator's settings."""

    summary: str
    train: Mapping[str, Any]  # a model preset's own row for this budget replaces it
    eval: Mapping[str, Any]


#: The budgets, in one table. Tasks size their data per budget (e.g. wall_door's ``SIZES``).
BUDGETS: dict[str, BudgetRow] = {
    "smoke": BudgetRow(
        "seconds, for tests",
        train=dict(steps=2, batch_size=4),
        eval=dict(probe_epochs=2, max_eval_windows=32, planning=False),
    ),
    "default": BudgetRow(
        "minutes on 2 CPU cores",
        train=dict(steps=200),
        eval=dict(probe_epochs=20, max_eval_windows=128, planning=True),
    ),
    "full": BudgetRow(
        "the reference budget, for a GPU",
        train=dict(steps=20_000),
        eval=dict(probe_epochs=20, max_eval_windows=None, planning=True),
    ),
}
BUDGET_NAMES: tuple[str, ...] = tuple(BUDGETS)

#: Training settings of a model whose preset gives none (e.g. a plug-in factory function).
GENERIC_TRAIN: dict[str, Any] = dict(
    optimizer="adamw",
    lr=1e-3,
    weight_decay=1e-4,
    grad_clip=1.0,
    batch_size=32,
    warmup_frac=0.05,
    window=0,
)
GENERIC_REG = "vicreg"
FLOAT32_MAX = 3.4028234663852886e38  # the largest finite float32


class ConfigError(ValueError):
    """A setting that is unknown or out of range; ``key`` is its dotted path (``train.steps``)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


# ---- plain values ----------------------------------------------------------------------------

#: How a scalar written as text becomes a value, in flags (``--model-arg``) and preset files
#: alike (YAML 1.2 style): decimal integers only (``010`` is ten), floats in any decimal notation
#: (``1e-3``), ``true``/``false``; no octal, hex, ``1_000``, ``yes``/``no`` or sexagesimal.
INT_TEXT = re.compile(r"[+-]?\d+")
FLOAT_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
BOOL_TEXT = re.compile(r"(?i:true|false)")


def parse_scalar(text: str) -> Any:
    """``text`` as a bool, int or float under the rule above; otherwise ``text`` unchanged."""
    plain = text.strip()
    if BOOL_TEXT.fullmatch(plain):
        return plain.lower() == "true"
    if INT_TEXT.fullmatch(plain):
        return int(plain, 10)
    if FLOAT_TEXT.fullmatch(plain):
        return float(plain)
    return text


# ---- value checks ---------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_int(key: str, v: Any, lo: int) -> int:
    if not _is_int(v) or v < lo:
        raise ConfigError(key, f"must be an integer >= {lo}, got {v!r}")
    return int(v)


def check_float(key: str, v: Any, lo: float, *, strict: bool, hi: float = math.inf) -> float:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (v > lo if strict else v >= lo) and v <= hi
    if not ok:
        bound = f"> {lo:g}" if strict else f">= {lo:g}"
        if hi != math.inf:
            bound += f" and <= {hi:g}"
        raise ConfigError(key, f"must be a finite number {bound}, got {v!r}")
    return float(v)


def check_choice(key: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ConfigError(key, f"must be one of {', '.join(choices)}; got {v!r}")
    return str(v)


def check_bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(key, f"must be true or false, got {v!r}")
    return v


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalising a frozen dataclass's own field


# ---- the dataclasses ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of a run, fully resolved."""

    steps: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    warmup_frac: float = 0.05
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    window: int = 0  # frames per training sample, cropped at a seeded random offset; 0: whole
    log_every: int = 10
    checkpoint_every: int = 0  # 0: only at the end (and on a non-finite loss, the last good one)
    keep_snapshots: bool = False  # also keep model_step<N>.safetensors at every checkpoint
    max_minutes: float | None = None  # optional wall-clock stop (results then depend on machine)
    compile: bool = False
    precision: Literal["auto", "fp32", "bf16"] = "auto"

    def __post_init__(self) -> None:
        k = "train."
        _set(self, "steps", check_int(k + "steps", self.steps, 1))
        _set(self, "batch_size", check_int(k + "batch_size", self.batch_size, 1))
        _set(self, "lr", check_float(k + "lr", self.lr, 0.0, strict=True))
        if self.lr > FLOAT32_MAX:  # the optimiser's float32 state would hold inf
            raise ConfigError(
                k + "lr",
                f"must be representable in float32 (<= {FLOAT32_MAX:.4g}), got {self.lr!r}",
            )
        _set(
            self,
            "weight_decay",
            check_float(k + "weight_decay", self.weight_decay, 0.0, strict=False),
        )
        _set(self, "grad_clip", check_float(k + "grad_clip", self.grad_clip, 0.0, strict=True))
        _set(
            self,
            "warmup_frac",
            check_float(k + "warmup_frac", self.warmup_frac, 0.0, strict=False, hi=1.0),
        )
        check_choice(k + "optimizer", self.optimizer, ("adamw", "adam", "sgd"))
        window = check_int(k + "window", self.window, 0)
        if window == 1:
            raise ConfigError(k + "window", "must be 0 (whole windows) or >= 2 frames, got 1")
        check_int(k + "log_every", self.log_every, 1)
        check_int(k + "checkpoint_every", self.checkpoint_every, 0)
        check_bool(k + "keep_snapshots", self.keep_snapshots)
        if self.max_minutes is not None:
            _set(
                self,
                "max_minutes",
                check_float(k + "max_minutes", self.max_minutes, 0.0, strict=True),
            )
        check_bool(k + "compile", self.compile)
        check_choice(k + "precision", self.precision, ("auto", "fp32", "bf16"))


PLANNERS: tuple[str, ...] = ("cem", "mppi", "gradient")
#: Latent planning costs: the last step, the mean, PLDM's 0.1 -> 1 ramp, the min over the horizon.
PlanObjective = Literal["final", "mean", "ramp", "min"]
PLAN_OBJECTIVES: tuple[str, ...] = get_args(PlanObjective)


@dataclass(frozen=True)
class PlanConfig:
    """The planning protocol on tasks that offer planning (docs/planning.md): the planner and its
    settings, the receding-horizon schedule, the episodes, the eval seeds and the thresholds.

    Planner settings: ``samples`` (cem, mppi), ``iterations`` (Adam steps for gradient),
    ``topk`` (cem), ``temperature`` (mppi, relative to the spread of the costs), ``init_std``
    (sampling std of cem and mppi, restart noise of gradient), ``lr`` and ``restarts``
    (gradient).
    """

    planner: Literal["cem", "mppi", "gradient"] = "gradient"
    samples: int = 100  # cem, mppi, and the oracle's cem when the planner is gradient
    iterations: int = 5
    topk: int = 10
    temperature: float = 0.5
    init_std: float = 1.0
    lr: float = 0.5
    restarts: int = 4
    horizon: int = 16
    replan_every: int = 4  # actions executed per planning call (receding horizon)
    max_steps: int = 200  # PLDM's budget; shortest paths are <= 25 px (same room), 40 px (cross)
    episodes: int = 25  # per case and eval seed (jepa-bench plan: >= 100, PLAN_PROTOCOLS)
    seeds: int = 2  # eval seed k: episode set episode_seed + k, planner noise from (seed, k)
    radius: float = 1.41  # success: within this many px of the goal at some step (PLDM)
    loose_radius: float = 4.6  # stable-worldmodel's 16 px at 224 px, scaled to 65 px
    objective: PlanObjective = "mean"
    residual: bool = False  # shift predictions by the model's error over just-executed windows
    residual_windows: int = 4  # earlier calls whose windows give those errors
    max_minutes: float | None = 20.0  # skip planning when the first calls project longer

    def __post_init__(self) -> None:
        k = "eval.plan."
        check_choice(k + "planner", self.planner, PLANNERS)
        for name in ("samples", "iterations", "topk", "restarts", "horizon", "replan_every"):
            check_int(k + name, getattr(self, name), 1)
        check_bool(k + "residual", self.residual)
        for name in ("max_steps", "episodes", "seeds", "residual_windows"):
            check_int(k + name, getattr(self, name), 1)
        if self.topk > self.samples:
            raise ConfigError(k + "topk", f"({self.topk}) must not exceed samples ({self.samples})")
        for name in ("temperature", "init_std", "lr", "radius", "loose_radius"):
            _set(self, name, check_float(k + name, getattr(self, name), 0.0, strict=True))
        check_choice(k + "objective", self.objective, PLAN_OBJECTIVES)
        if self.max_minutes is not None:
            _set(
                self,
                "max_minutes",
                check_float(k + "max_minutes", self.max_minutes, 0.0, strict=True),
            )


#: Named planning protocols of ``jepa-bench plan --protocol``: minimums over a run's eval.plan.
PLAN_PROTOCOLS: dict[str, dict[str, int]] = {"run": {}, "report": {"episodes": 100, "seeds": 2}}


def protocol_config(cfg: PlanConfig, protocol: str, **overrides: Any) -> PlanConfig:
    """``cfg`` under the named protocol (each of its settings raised to the protocol's minimum),
    then ``overrides`` (explicit settings win)."""
    check_choice("protocol", protocol, tuple(PLAN_PROTOCOLS))
    raised = {k: max(getattr(cfg, k), v) for k, v in PLAN_PROTOCOLS[protocol].items()}
    return replace(cfg, **{**raised, **overrides})


@dataclass(frozen=True)
class EvalConfig:
    """Evaluator settings, fully resolved; the MLP probe's follow the DL25SP course evaluator
    (docs/probe_protocol.md)."""

    probe_epochs: int = 20
    probe_batch_size: int = 64  # windows; the peak lr is probe_lr * batch / 256
    probe_lr: float = 2e-4
    probe_hidden: int = 256
    probe_seeds: int = 3  # MLP probes fitted per suite (init, data order); metrics are their mean
    probe_sample_steps: int | None = 30  # time steps per training window when longer (None: all)
    eval_untrained: bool = True
    max_eval_windows: int | None = 128  # windows for latent error / collapse (None: all)
    planning: bool = True  # on tasks that offer planning
    plan: PlanConfig = field(default_factory=PlanConfig)

    def __post_init__(self) -> None:
        k = "eval."
        check_int(k + "probe_epochs", self.probe_epochs, 1)
        check_int(k + "probe_batch_size", self.probe_batch_size, 1)
        _set(self, "probe_lr", check_float(k + "probe_lr", self.probe_lr, 0.0, strict=True))
        check_int(k + "probe_hidden", self.probe_hidden, 1)
        check_int(k + "probe_seeds", self.probe_seeds, 1)
        if self.probe_sample_steps is not None:
            check_int(k + "probe_sample_steps", self.probe_sample_steps, 1)
        check_bool(k + "eval_untrained", self.eval_untrained)
        if self.max_eval_windows is not None:
            check_int(k + "max_eval_windows", self.max_eval_windows, 1)
        check_bool(k + "planning", self.planning)
        if isinstance(self.plan, Mapping):
            _set(self, "plan", from_mapping(PlanConfig, self.plan, "eval.plan"))


@dataclass(frozen=True)
class RunConfig:
    """One run, fully resolved (``jepa_bench.runner.resolve``); what config.yaml holds."""

    model: str = "convnext_mlp"
    model_sha256: str | None = None  # a plug-in model's source file (None: built in)
    task: str = "wall_door"
    reg: str = GENERIC_REG
    seed: int = 0
    budget: Budget = "default"
    device: str = "auto"
    out: str = "runs"
    data_dir: str | None = None
    resume: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        for key in ("model", "task", "reg", "device", "out"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(key, f"must be a non-empty string, got {value!r}")
        check_int("seed", self.seed, 0)
        check_choice("budget", self.budget, BUDGET_NAMES)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError("data_dir", f"must be a path string or null, got {self.data_dir!r}")
        check_bool("resume", self.resume)
        for key in ("model_kwargs", "task_kwargs"):
            value = getattr(self, key)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise ConfigError(key, f"must be a mapping of names to values, got {value!r}")
            _set(self, key, dict(value))
        if isinstance(self.train, Mapping):
            _set(self, "train", from_mapping(TrainConfig, self.train, "train"))
        if isinstance(self.eval, Mapping):
            _set(self, "eval", from_mapping(EvalConfig, self.eval, "eval"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hash(self) -> str:
        """The config hash: names the run directory and is the record's ``config_hash``."""

        return hash_config(self.to_dict())

    @classmethod
    def from_dict(cls, d: Any) -> RunConfig:
        """A stored (resolved) config; ``ConfigError`` names an unknown key or a bad value."""
        return from_mapping(cls, d, "config")


def check_keys(cls: type, d: Any, where: str) -> None:
    """Raise ``ConfigError`` unless ``d`` is a mapping whose keys are fields of ``cls``."""
    if not isinstance(d, Mapping):
        raise ConfigError(where, f"expected a mapping of settings, got {type(d).__name__}")
    names = [f.name for f in fields(cls)]
    for key in d:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            prefix = "" if where == "config" else f"{where}."
            raise ConfigError(f"{prefix}{key}", f"unknown setting{hint}; known: {', '.join(names)}")


def from_mapping(cls: type, d: Any, where: str) -> Any:
    """``cls(**d)`` after checking every key; nested sections are converted by the classes."""
    check_keys(cls, d, where)
    return cls(**dict(d))
