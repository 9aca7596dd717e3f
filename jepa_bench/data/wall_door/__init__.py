"""The wall_door task: an agent in two rooms joined by a door (DL25SP specification).

Importing this package registers the task as ``"wall_door"``.
"""

from jepa_bench.data.wall_door.generate import DATA_SEED, SIZES, SPLITS, TASK_VERSION
from jepa_bench.data.wall_door.task import WallDoorTask, WallDoorWindows, wall_door

__all__ = [
    "DATA_SEED",
    "SIZES",
    "SPLITS",
    "TASK_VERSION",
    "WallDoorTask",
    "WallDoorWindows",
    "wall_door",
]
