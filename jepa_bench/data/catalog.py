"""Built-in tasks, registered lazily so importing one task never imports the others."""

from jepa_bench.registry import TASKS

TASKS.add(
    "wall_door",
    "jepa_bench.data.wall_door:wall_door",
    help="2-D agent in a 65x65 two-room world with a wall and a door (DL25SP spec)",
)
TASKS.add(
    "koch_pick_place",
    "jepa_bench.data.robot.koch:koch_pick_place",
    help="Koch arm pick-and-place recordings from a LeWM HDF5 file or a LeRobot folder",
)
TASKS.add(
    "arm_sim",
    "jepa_bench.data.robot.arm_sim:arm_sim",
    help="Simulated 6-joint arm doing pick-and-place (offline; LeRobot v3.0 -> HDF5)",
)
