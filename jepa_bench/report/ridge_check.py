"""Where a wall_door model loses the agent: a ridge probe on encoded and on rolled-out latents.

``python -m jepa_bench.report.ridge_check RUN_DIR [--step N ...]`` rebuilds the run's model from
its ``config.yaml``, loads ``model.safetensors`` (or ``model_step<N>.safetensors`` of a run made
with ``--keep-snapshots``; step 0 is the untrained model) and fits a closed-form ridge probe of
the agent's location (alpha 1e-3) on the first ``--windows`` windows of ``probe_normal_train``,
scored in px^2 on as many of ``probe_normal_val``, over every frame. On encoded latents it
measures what the encoder holds; on rollout latents what survives the predictor. It needs no
training and takes seconds, so a run's snapshots show when the agent enters or leaves.
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from jepa_bench.data.wall_door.task import WallDoorTask
from jepa_bench.evaluate.probe import LatentCache, fit_linear_probe, mse_px2, predict
from jepa_bench.evaluate.suites import chance_mse
from jepa_bench.report.checkpoints import find_snapshots
from jepa_bench.report.latents import load_weights
from jepa_bench.runner.rundir import RunDir, RunDirError

ALPHA = 1e-3
TRAIN_SPLIT, VAL_SPLIT, TARGET = "probe_normal_train", "probe_normal_val", "location"


@dataclass
class RidgeCheck:
    """Ridge probe MSE (px^2) of the agent's location, and the constant predictor's."""

    chance: float
    encoded: float
    rollout: float
    rollout_per_step: list[float]


def ridge_check(model: torch.nn.Module, task: WallDoorTask, windows: int = 512) -> RidgeCheck:
    """The probe of the module docstring for ``model`` on wall_door ``task``."""
    model.eval()
    cache = LatentCache(model, torch.device("cpu"), progress=False)
    train, val = task.windows(TRAIN_SPLIT), task.windows(VAL_SPLIT)
    scores = {}
    for mode in ("encode", "rollout"):
        a = cache.get(train, mode, TRAIN_SPLIT, windows)
        b = cache.get(val, mode, VAL_SPLIT, windows)
        head = fit_linear_probe(a.z, torch.from_numpy(a.targets[TARGET]), alpha=ALPHA)
        pred = predict(head, b.z, torch.device("cpu")).numpy()
        scores[mode] = mse_px2(pred, b.targets[TARGET])
    return RidgeCheck(
        chance=chance_mse(a.targets[TARGET], b.targets[TARGET]),  # the same targets in each mode
        encoded=scores["encode"]["value"],
        rollout=scores["rollout"]["value"],
        rollout_per_step=scores["rollout"]["per_step"],
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: one line per checkpoint of a run directory."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--step", type=int, nargs="*", default=[], help="snapshot steps (0: untrained)")
    ap.add_argument("--windows", type=int, default=512, help="windows per split")
    args = ap.parse_args(argv)
    try:
        run = RunDir(args.run_dir).load()  # the final weights and the untrained twin
    except RunDirError as e:
        ap.error(str(e))
    if not isinstance(run.task, WallDoorTask):
        ap.error(f"the ridge check reads wall_door's agent location; this run is {run.cfg.task!r}")
    snapshots = dict(find_snapshots(args.run_dir))
    for step in args.step or [-1]:
        if step < 0:
            model, label = run.model, "final"
        elif step == 0:
            model, label = run.untrained, "untrained"
        elif step in snapshots:
            model, label = copy.deepcopy(run.untrained), f"step {step}"
            load_weights(model, snapshots[step])
        else:
            have = ", ".join(map(str, snapshots)) or "none (snapshots need --keep-snapshots)"
            ap.error(f"{args.run_dir} has no snapshot of step {step}; it has: {have}")
        r = ridge_check(model, run.task, args.windows)
        ends = r.rollout_per_step
        print(
            f"{label}: chance {r.chance:.1f} | ridge encoded {r.encoded:.1f} | ridge rollout "
            f"{r.rollout:.1f} (t=0 {ends[0]:.1f}, last {ends[-1]:.1f}) px^2",
            flush=True,
        )


if __name__ == "__main__":
    main()
