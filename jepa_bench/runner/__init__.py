"""Runs: resolve a request into a config, build it, execute it, read a run directory back.

- ``resolve`` (``resolve.py``): request (preset file + flags) -> frozen ``RunConfig``;
- ``build`` (``build.py``): ``RunConfig`` -> ``Built`` (task, seeded model, objective);
- ``execute_run`` (``execute.py``): train, evaluate beside the untrained twin, record;
- ``RunDir`` / ``load_trained`` (``rundir.py``): a run directory and a run rebuilt from it.
"""

from jepa_bench.runner.build import Built, build, pick_device, run_id_for, seed_everything
from jepa_bench.runner.execute import RunFailedError, execute_run
from jepa_bench.runner.outdirs import check_dir, check_output_dirs
from jepa_bench.runner.resolve import read_preset, resolve
from jepa_bench.runner.rundir import LoadedRun, RunDir, RunDirError, load_trained

__all__ = [
    "Built",
    "LoadedRun",
    "RunDir",
    "RunDirError",
    "RunFailedError",
    "build",
    "check_dir",
    "check_output_dirs",
    "execute_run",
    "load_trained",
    "pick_device",
    "read_preset",
    "resolve",
    "run_id_for",
    "seed_everything",
]
