"""Built-in tasks, registered lazily so importing one task never imports the others."""

from jepa_bench.registry import TASKS

TASKS.add(
    "wall_door",
    "jepa_bench.data.wall_door:wall_door",
    help="2-D agent in a 65x65 two-room world with a wall and a door (DL25SP spec)",
)
