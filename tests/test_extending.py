"""docs/extending.md: its worked example registers a model, a task and a regulariser with one line
each, and a run uses all three. The test runs the document's own code block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jepa_bench.registry import MODELS, REGULARIZERS, TASKS
from tests.test_task_contract import _check_batch

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "extending.md"
NEW = {MODELS: "tiny_conv_gru", TASKS: "moving_dot", REGULARIZERS: "unit_norm"}


def doc_block() -> str:
    """The worked example's Python block (the one that registers and runs)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "execute_run(" in b]
    return block


@pytest.fixture
def registries(monkeypatch):
    """The examples folder importable; the three new names forgotten afterwards."""
    monkeypatch.syspath_prepend(str(ROOT))
    yield
    for registry, name in NEW.items():
        registry.remove(name)


def test_worked_example_runs(registries, tmp_path):
    """One line per registry, then a smoke run of the new model on the new task with the new
    regulariser writes a record whose loss terms include the new one."""
    namespace: dict[str, object] = {"OUT": str(tmp_path / "runs")}
    lines = [line for line in doc_block().splitlines() if line.strip().endswith('")')]
    assert sum(".add(" in line for line in lines) == 3  # one registration line each
    exec(doc_block(), namespace)  # noqa: S102 - the document's example, run as written
    record = namespace["record"]
    assert isinstance(record, dict)
    assert record["task"]["name"] == "moving_dot" and record["model"]["name"] == "tiny_conv_gru"
    assert "probe/dot" in record["metrics"]
    assert set(record["regularizer"]["resolved"]) == {"vicreg", "unit_norm"}
    log = (tmp_path / "runs" / record["run_id"] / "train_log.jsonl").read_text()
    assert '"unit_norm/norm"' in log
    for registry, name in NEW.items():
        assert name in registry.names()


def test_example_task_honours_the_task_protocol(registries):
    """The example task passes the same window checks every registered task does."""
    exec(doc_block().split("config =")[0], {})  # the imports and registration lines only
    task = TASKS.get("moving_dot")(budget="smoke", seed=0, data_dir=None)
    _check_batch(task.train_set(), task.spec, "train")
    for suite in task.probe_suites():
        _check_batch(suite.train, task.spec, "probe train", suite.targets)
