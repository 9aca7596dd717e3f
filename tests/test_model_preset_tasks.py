"""ModelPreset.task_arch: per-task architecture defaults between the preset's and a run's own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.lewm.presets import CPU, CPU_TASK_ARCH, LEWM, LEWM_CPU
from jepa_bench.models.preset import ModelPreset

SPEC = TaskSpec(name="wall_door", version="v", obs_shape=(1, 8, 8), action_dim=2, seq_len=3)


def record(spec: TaskSpec, **kwargs: Any) -> dict[str, Any]:
    return kwargs


def test_task_arch_sits_between_the_preset_and_the_run() -> None:
    preset = ModelPreset(
        build=record, arch=dict(a=1, b=1, c=1), task_arch={"wall_door": dict(b=2, c=2)}
    )
    assert preset(SPEC) == dict(a=1, b=2, c=2)
    assert preset(SPEC, c=3) == dict(a=1, b=2, c=3)  # a run's own argument wins
    assert preset(replace(SPEC, name="arm_sim")) == dict(a=1, b=1, c=1)  # other tasks: arch only


def test_lewm_cpu_sets_each_builtin_tasks_fix_and_the_reference_sets_none() -> None:
    assert LEWM_CPU.arch_for("wall_door") == {**CPU, "blur": 3.0, "residual": True}
    assert LEWM_CPU.arch_for("arm_sim") == {**CPU, "pool": "flatten", "embed_dim": 512}
    assert LEWM_CPU.arch_for("koch_pick_place") == CPU
    assert set(CPU_TASK_ARCH) == {"wall_door", "arm_sim"}
    assert not LEWM.task_arch  # the published settings stay the published settings
