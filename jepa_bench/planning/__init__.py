"""Planning with world models, generic over tasks: planners in latent space on what a task offers.

A task that has an interactive environment returns a ``PlanningSuite`` from ``planning()``
(``jepa_bench.data.base``); ``plan_eval`` scores a model on its fixed episodes beside a random
policy and an oracle planner, and ``jepa-bench plan --run RUN_DIR`` runs it on a trained run.
Planners (CEM, MPPI, gradient) share one interface (``planning.planners.Planner``).
"""

from jepa_bench.planning.cem import CEM
from jepa_bench.planning.evaluate import plan_eval
from jepa_bench.planning.gradient import GradientPlanner
from jepa_bench.planning.latent import LatentPlanner, latent_rollout
from jepa_bench.planning.mppi import MPPI
from jepa_bench.planning.planners import Planner, PlanResult, clamp_norm, make_planner
from jepa_bench.planning.stats import wilson

__all__ = [
    "CEM",
    "MPPI",
    "GradientPlanner",
    "LatentPlanner",
    "PlanResult",
    "Planner",
    "clamp_norm",
    "latent_rollout",
    "make_planner",
    "plan_eval",
    "wilson",
]
