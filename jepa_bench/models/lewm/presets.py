"""Registered LeWM sizes: ``ModelPreset``s of the one ``LeWM`` class.

- ``lewm``: the reference (ViT-tiny/14 at 224 px, predictor depth 6 with 16 x 64 heads);
  18.0 M parameters on a 3-channel task with action_dim 30.
- ``lewm_cpu``: a size a 2-core CPU trains in minutes on wall_door (65 px, patch 13, sin-cos
  initialised positions, history 1, one ViT per channel group; about 0.8 s per step of 32
  windows x 17 frames on 2 cores), with per-task settings (``CPU_TASK_ARCH``): on wall_door
  ``blur=3`` and ``residual=True`` (without them one seed of three stays blind), on arm_sim
  ``pool="flatten"`` and ``embed_dim=512`` (camera frames, a small cube: state R2 0.892 against
  0.685 with mean pooling). The baselines/ files name them too.
- ``lewm_smoke``: tiny, for tests and the CLI's end-to-end check.

Each size has its own training defaults and budgets, read when a run's config is resolved.
"""

from __future__ import annotations

from typing import Any

from jepa_bench.models.lewm.model import LeWM
from jepa_bench.models.preset import ModelPreset

REFERENCE: dict[str, Any] = dict(
    image_size=224,
    patch_size=14,
    dim=192,
    depth=12,
    heads=3,
    mlp_dim=768,
    proj_hidden=2048,
    history_size=3,
    pred_depth=6,
    pred_heads=16,
    pred_dim_head=64,
    pred_mlp_dim=2048,
    pred_dropout=0.1,
)

CPU: dict[str, Any] = dict(
    image_size=65,  # wall_door frames are used as they are; 13 px patches give a 5 x 5 grid
    patch_size=13,
    dim=128,
    depth=4,
    heads=4,
    mlp_dim=256,
    proj_hidden=512,
    # One frame of history: at the CPU budget it carries the agent through 16-step rollouts far
    # better than 3 (wall_door probe 66.9 vs 136.3 px^2 normal, BENCHMARKS.md / docs/models.md).
    history_size=1,
    pred_depth=3,
    pred_heads=4,
    pred_dim_head=32,
    pred_mlp_dim=512,
    pred_dropout=0.0,
    # Sparse 65 px frames: positions must be told apart from the start (see vit.py); supervised
    # location regression reached 11 px^2 in 125 steps from sin-cos vs 56 px^2 from std 0.02.
    pos_init="sincos",
    # One ViT per channel group (branches.py): on wall_door the agent's ViT sees only the agent,
    # so the room layout cannot stand in for it (probe normal 15.4 vs 71.7 px^2, docs/models.md).
    # Tasks with one channel group (camera frames) get the single ViT, unchanged.
    branches=True,
)

# What each built-in task's frames need beyond CPU (docs/models.md has the screens, three seeds
# each). wall_door: a 1.3 px agent in 13 px patches is blurred so a one-pixel move does not jump
# between patches, and the predictor outputs the change of the latest latent (without both, one
# seed of three stayed blind: probe normal 79.5 px^2). arm_sim: a 3 cm cube in camera frames is
# read from every patch token and kept in a 512-wide latent (state R2 0.892 against 0.685 with
# the mean of the tokens; 11.2 M parameters, most of them the 512-wide predictor). On arm_sim
# the wall_door settings lowered every probe, and on wall_door mean pooling left a seed blind.
CPU_TASK_ARCH: dict[str, dict[str, Any]] = {
    "wall_door": dict(blur=3.0, residual=True),
    "arm_sim": dict(pool="flatten", embed_dim=512),
}

SMOKE: dict[str, Any] = dict(
    image_size=32,
    patch_size=8,
    dim=32,
    depth=1,
    heads=2,
    mlp_dim=64,
    proj_hidden=64,
    history_size=3,
    pred_depth=1,
    pred_heads=2,
    pred_dim_head=16,
    pred_mlp_dim=64,
    pred_dropout=0.0,
    act_smoothed=4,
    act_mlp_scale=2,
)


# LeWM's published optimisation: AdamW, lr 5e-5, weight decay 1e-3, clip 1.0, batch 128.
PAPER_TRAIN: dict[str, Any] = dict(
    optimizer="adamw", lr=5e-5, weight_decay=1e-3, grad_clip=1.0, batch_size=128, warmup_frac=0.05
)

LEWM = ModelPreset(
    build=LeWM,
    arch=REFERENCE,
    train=PAPER_TRAIN,
    budgets={
        "smoke": dict(steps=2, batch_size=4),
        "default": dict(steps=300, batch_size=16, lr=1e-4),
        "full": dict(steps=20_000, batch_size=128),
    },
    reg="sigreg:0.09",
)
# A higher learning rate suits the CPU size's short budgets.
LEWM_CPU = ModelPreset(
    build=LeWM,
    arch=CPU,
    train={**PAPER_TRAIN, "lr": 1e-3, "batch_size": 32},
    budgets={
        "smoke": dict(steps=2, batch_size=4),
        "default": dict(steps=800, batch_size=32),  # about 8 minutes on 2 cores (wall_door)
        "full": dict(steps=20_000, batch_size=128, lr=3e-4),
    },
    reg="sigreg:0.09",
    task_arch=CPU_TASK_ARCH,
)
LEWM_SMOKE = ModelPreset(
    build=LeWM,
    arch=SMOKE,
    train={**PAPER_TRAIN, "lr": 1e-3, "batch_size": 8},
    budgets={
        "smoke": dict(steps=2, batch_size=4),
        "default": dict(steps=50, batch_size=8),
        "full": dict(steps=500, batch_size=16),
    },
    reg="sigreg:0.09",
)
