"""Planning with world models, generic over tasks: CEM in latent space on what a task offers.

A task that has an interactive environment returns a ``PlanningSuite`` from ``planning()``
(``jepa_bench.data.base``); ``plan_eval`` scores a model on its fixed episodes beside a random
policy and an oracle planner, and ``jepa-bench plan --run RUN_DIR`` runs it on a trained run.
"""

from jepa_bench.planning.cem import CEMResult, CEMSettings, cem, clamp_norm
from jepa_bench.planning.evaluate import plan_eval
from jepa_bench.planning.latent import LatentPlanner, latent_rollout

__all__ = [
    "CEMResult",
    "CEMSettings",
    "LatentPlanner",
    "cem",
    "clamp_norm",
    "latent_rollout",
    "plan_eval",
]
