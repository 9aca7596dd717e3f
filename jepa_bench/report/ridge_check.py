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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import load_file

from jepa_bench.evaluate.probe import LatentCache, fit_linear_probe, predict

ALPHA = 1e-3
TRAIN_SPLIT, VAL_SPLIT, TARGET = "probe_normal_train", "probe_normal_val", "location"


@dataclass
class RidgeCheck:
    """Ridge probe MSE (px^2) of the agent's location, and the constant predictor's."""

    chance: float
    encoded: float
    rollout: float
    rollout_per_step: list[float]


def ridge_check(model: torch.nn.Module, task: object, windows: int = 512) -> RidgeCheck:
    """The probe of the module docstring for ``model`` on wall_door ``task``."""
    model.eval()
    cache = LatentCache(model, torch.device("cpu"), progress=False)
    train, val = task.windows(TRAIN_SPLIT), task.windows(VAL_SPLIT)  # type: ignore[attr-defined]
    errors: dict[str, np.ndarray] = {}
    y_train = y_val = np.zeros((0, 0, 2))
    for mode in ("encode", "rollout"):
        a = cache.get(train, mode, TRAIN_SPLIT, windows)
        b = cache.get(val, mode, VAL_SPLIT, windows)
        y_train, y_val = a.targets[TARGET], b.targets[TARGET]  # (N, T, 2) each
        head = fit_linear_probe(a.z, torch.from_numpy(y_train), alpha=ALPHA)
        pred = predict(head, b.z, torch.device("cpu")).numpy()
        errors[mode] = ((pred - y_val) ** 2).mean(axis=(0, 2))  # (T,)
    mean = y_train.reshape(-1, y_train.shape[-1]).mean(0)
    chance = float(((y_val - mean) ** 2).mean())
    return RidgeCheck(
        chance=chance,
        encoded=float(errors["encode"].mean()),
        rollout=float(errors["rollout"].mean()),
        rollout_per_step=[float(e) for e in errors["rollout"]],
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: one line per checkpoint of a run directory."""
    from jepa_bench.config import RunConfig
    from jepa_bench.runner.build import build

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--step", type=int, nargs="*", default=[], help="snapshot steps (0: untrained)")
    ap.add_argument("--windows", type=int, default=512, help="windows per split")
    args = ap.parse_args(argv)
    cfg = RunConfig.from_dict(yaml.safe_load((args.run_dir / "config.yaml").read_text()))
    if cfg.task != "wall_door":
        ap.error(f"the ridge check reads wall_door's agent location; this run is {cfg.task!r}")
    built = build(cfg)
    untrained = {k: v.clone() for k, v in built.model.state_dict().items()}
    for step in args.step or [-1]:
        if step == 0:
            state, label = untrained, "untrained"
        else:
            name = "model.safetensors" if step < 0 else f"model_step{step}.safetensors"
            path = args.run_dir / name
            if not path.is_file():
                ap.error(f"{path} does not exist (snapshots need --keep-snapshots)")
            state, label = load_file(path), ("final" if step < 0 else f"step {step}")
        built.model.load_state_dict(state)
        r = ridge_check(built.model, built.task, args.windows)
        ends = r.rollout_per_step
        print(
            f"{label}: chance {r.chance:.1f} | ridge encoded {r.encoded:.1f} | ridge rollout "
            f"{r.rollout:.1f} (t=0 {ends[0]:.1f}, last {ends[-1]:.1f}) px^2",
            flush=True,
        )


if __name__ == "__main__":
    main()
