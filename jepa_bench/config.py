"""Typed run configuration: CLI flags map onto these dataclasses; runs dump the resolved one."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Budget = Literal["smoke", "default", "full"]
BUDGETS: tuple[str, ...] = ("smoke", "default", "full")


@dataclass
class TrainConfig:
    """Optimisation settings; ``None`` fields are filled from the model's and budget's defaults."""

    steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    warmup_frac: float | None = None
    optimizer: Literal["adamw", "adam", "sgd"] | None = None
    window: int | None = None  # frames per training sample, cropped at random; 0: whole windows
    log_every: int = 10
    checkpoint_every: int = 0  # 0: only at the end (and on a non-finite loss, the last good one)
    keep_snapshots: bool = False  # also keep model_step<N>.safetensors at every checkpoint
    max_minutes: float | None = (
        None  # optional wall-clock stop (results then depend on the machine)
    )
    compile: bool = False
    precision: Literal["auto", "fp32", "bf16"] = "auto"


@dataclass
class PlanConfig:
    """Planning evaluation (CEM in latent space) on tasks with an interactive environment."""

    episodes: int = 10  # per case: same-room and cross-room start/goal pairs
    samples: int = 300  # CEM defaults follow LeWM's planner
    iterations: int = 30
    topk: int = 30
    horizon: int = 8
    replan_every: int = 4  # actions executed per planning call (receding horizon)
    max_steps: int = 40  # enough for 25 px same-room and 40 px cross-room paths at <= 1.8 px
    radius: float = 1.41  # success: final position within this many px of the goal (PLDM)
    loose_radius: float = 4.0
    objective: Literal["final", "mean"] = "final"
    max_minutes: float | None = 20.0  # skip planning when the first episodes project longer


@dataclass
class EvalConfig:
    """Evaluator settings; probe settings follow the DL25SP protocol by default."""

    probe_epochs: int | None = None
    probe_batch_size: int = 256
    probe_lr: float = 2e-4
    probe_hidden: int = 256
    eval_untrained: bool = True
    max_eval_windows: int | None = None
    planning: bool | None = None  # None: on for default/full budgets, off at smoke
    plan: PlanConfig = field(default_factory=PlanConfig)

    def __post_init__(self) -> None:
        if isinstance(self.plan, dict):
            self.plan = PlanConfig(**self.plan)


@dataclass
class RunConfig:
    model: str = "convnext_mlp"
    task: str = "wall_door"
    reg: str | None = None  # None: the model family's default regulariser
    seed: int = 0
    budget: str = "default"
    device: str = "auto"
    out: str = "runs"
    data_dir: str | None = None
    resume: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hash(self) -> str:
        """A short hash of everything that determines the result (not output paths or device)."""
        from jepa_bench.record.schema import hash_config

        return hash_config(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        train = TrainConfig(**d.pop("train", {}))
        ev = EvalConfig(**d.pop("eval", {}))
        return cls(train=train, eval=ev, **d)
