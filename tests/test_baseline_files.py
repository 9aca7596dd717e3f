"""Every reference run config in baselines/ resolves, and its model builds and passes the check."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from jepa_bench.config import RunConfig
from jepa_bench.models.lewm.adapters import ImageAdapter
from jepa_bench.runner import read_preset, resolve
from jepa_bench.runner.build import build_model, build_task

BASELINES = sorted((Path(__file__).parents[1] / "baselines").glob("*.yaml"))


def built(path: Path, data_dir: Path) -> tuple[RunConfig, nn.Module]:
    """The file's resolved config and its model (raises on a bad setting or a failed check)."""
    cfg = resolve({**read_preset(path), "data_dir": str(data_dir)})
    return cfg, build_model(cfg, build_task(cfg))


def test_there_are_baseline_files() -> None:
    assert len(BASELINES) >= 5


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: p.stem)
def test_baseline_resolves_and_builds(path: Path, tmp_path: Path) -> None:
    cfg, model = built(path, tmp_path)
    task_name, model_name = path.stem.split("__")[:2]
    assert (cfg.task, cfg.model) == (task_name, model_name)  # the file is named for what it runs
    assert model.repr_dim > 0


def test_wall_door_lewm_baseline_blurs_and_predicts_the_change(tmp_path: Path) -> None:
    path = next(p for p in BASELINES if p.stem == "wall_door__lewm_cpu__sigreg")
    _, model = built(path, tmp_path)
    adapters = [m for m in model.modules() if isinstance(m, ImageAdapter)]
    assert len(adapters) == 2 and all(a.blur == 3.0 for a in adapters)
    assert model.residual is True
