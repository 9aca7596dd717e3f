"""Planning with world models: CEM in latent space on an interactive wall_door environment.

``plan_eval`` scores a model on fixed same-room and cross-room episodes beside a random-action
baseline and an oracle planner; ``jepa-bench plan --run RUN_DIR`` runs it on a trained run.
"""

from jepa_bench.planning.cem import CEMResult, CEMSettings, LatentPlanner, cem, clamp_norm
from jepa_bench.planning.env import WallDoorEnv
from jepa_bench.planning.episodes import Episodes, episode_sets, make_episodes
from jepa_bench.planning.evaluate import plan_eval
from jepa_bench.planning.oracle import OraclePlanner, random_actions

__all__ = [
    "CEMResult",
    "CEMSettings",
    "Episodes",
    "LatentPlanner",
    "OraclePlanner",
    "WallDoorEnv",
    "cem",
    "clamp_norm",
    "episode_sets",
    "make_episodes",
    "plan_eval",
    "random_actions",
]
