"""Bad input to `run`, `verify` and the trainer: a named error (exit 2), nothing half-written,
nothing silently wrong. docs/errors.md lists the same cases."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from jepa_bench.cli import main
from jepa_bench.commands.options import parse_value
from jepa_bench.config import TrainConfig
from jepa_bench.models.convnext_mlp import CONVNEXT_MLP_SMOKE
from jepa_bench.regularizers.base import Objective, Schedule
from jepa_bench.runner import RunDir, RunDirError, execute_run, read_preset, resolve
from jepa_bench.train import checkpoint as ckpt
from jepa_bench.train.loop import NonFiniteLossError, train
from tests.helpers import ToyTask, ToyWindows

SMOKE = ["run", "-m", "convnext_mlp_smoke", "-t", "wall_door", "-b", "smoke", "-q"]
TINY_TASK = ["--task-arg", "train=16", "--task-arg", "probe_normal_train=16"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def invoke(args: list[str], out: Path, cache: Path) -> tuple[int, str]:
    """``args`` with ``--out`` and ``--data-dir`` added unless they are given."""
    given = [a for a in ("--out", str(out), "--data-dir", str(cache))]
    for flag in ("--out", "--data-dir"):
        if flag in args:
            i = given.index(flag)
            del given[i : i + 2]
    res = CliRunner().invoke(main, [*args, *given])
    return res.exit_code, res.output


@pytest.mark.parametrize(
    "extra, names",
    [
        (["--steps", "-5"], "--steps"),
        (["--steps", "0"], "--steps"),
        (["--batch-size", "-3"], "--batch-size"),
        (["--batch-size", "0"], "--batch-size"),
        (["--checkpoint-every", "-1"], "--checkpoint-every"),
        (["--max-minutes", "-1"], "--max-minutes"),
        (["--lr", "inf"], "--lr"),
        (["--seed", "-1"], "--seed"),
        (["--window", "1"], "--window"),
        (["--window", "40"], "longer than"),
        (["--reg", "vicreg:colour=3"], "--reg"),
        (["--reg", "vicreg:variance=50@0.8"], "stage at 0"),
        (["--model-arg", "widht=4"], "--model-arg"),
        (["--model-arg", "dim"], "--model-arg"),
        (["--task-arg", "trian=5"], "--task-arg"),
        (["--task-arg", "data_seed=abc"], "data_seed"),
        (["--task-arg", "cache=abc"], "cache"),
        (["--lr", "1e39"], "float32"),
        (["--out", "{file}"], "--out"),
        (["--out", "{file}/runs"], "--out"),
        (["--out", "/proc/nope"], "--out"),
        (["--data-dir", "{file}"], "--data-dir"),
        (["--leaderboard-dir", "{file}"], "--leaderboard-dir"),
    ],
)
def test_bad_flags_name_the_flag_and_write_nothing(extra, names, tmp_path, cache):
    """Each bad value exits with status 2 and a message naming it; no run directory appears.
    ``{file}`` stands for an existing plain file."""
    out = tmp_path / "runs"
    (tmp_path / "file").write_text("not a folder")
    extra = [a.replace("{file}", str(tmp_path / "file")) for a in extra]
    code, output = invoke(SMOKE + extra, out, cache)
    assert code == 2, output
    assert names in output and "Traceback" not in output
    assert not out.exists() or not any(out.iterdir())
    assert (tmp_path / "file").read_text() == "not a folder"


@pytest.mark.parametrize("jobs", ["0", "-2"])
def test_ablate_needs_at_least_one_job(jobs, tmp_path):
    """`ablate --jobs 0` (or below) is refused with status 2 before any run starts."""
    out = tmp_path / "runs"
    args = ["ablate", "-m", "convnext_mlp_smoke", "-b", "smoke", "--jobs", jobs, "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "--jobs" in res.output and "x>=1" in res.output, res.output
    assert not out.exists()


def test_cuda_without_cuda_is_a_named_error(tmp_path, cache):
    """--device cuda on a machine without CUDA names the option."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, output = invoke(SMOKE + ["--device", "cuda"], tmp_path / "runs", cache)
    assert code == 2 and "--device" in output and "no CUDA" in output


@pytest.mark.parametrize(
    "text, needle",
    [
        ("stepz: 3\n", "stepz"),
        ("train:\n  stepz: 3\n", "train.stepz"),
        ("model: [unclosed\n", "cannot be read"),
        ("- a\n- b\n", "mapping"),
        ("train: 3\n", "train"),
        ("model_kwargs: 3\n", "model_kwargs: must be a mapping"),
        ("model_kwargs: [1]\n", "model_kwargs: must be a mapping"),
        ("task_kwargs: [1]\n", "task_kwargs: must be a mapping"),
    ],
)
def test_bad_config_files_are_named(text, needle, tmp_path, cache):
    """Unknown keys (nested too), bad YAML, a list and a non-mapping `model_kwargs` or
    `task_kwargs` (with or without --task-arg on top) are usage errors, not tracebacks."""
    preset = tmp_path / "preset.yaml"
    preset.write_text(text)
    for extra in ([], TINY_TASK):
        code, output = invoke(SMOKE + ["--config", str(preset), *extra], tmp_path / "runs", cache)
        assert code == 2 and needle in output and "Traceback" not in output


@pytest.mark.parametrize(
    "text, expected",
    [
        ("seed: 010\n", {"seed": 10}),
        ("model_kwargs: {width: 010}\n", {"model_kwargs": {"width": 10}}),
        ("model_kwargs: {dropout: 1e-3}\n", {"model_kwargs": {"dropout": 0.001}}),
        ("train: {lr: 1e-3, steps: +3}\n", {"train": {"lr": 0.001, "steps": 3}}),
        ("train: {lr: 5E-4, warmup_frac: .5}\n", {"train": {"lr": 0.0005, "warmup_frac": 0.5}}),
        ("eval: {planning: False}\n", {"eval": {"planning": False}}),
        ("model_kwargs: {a: yes, b: 0x10, c: 1_000, d: 2026-01-01}\n",
         {"model_kwargs": {"a": "yes", "b": "0x10", "c": "1_000", "d": "2026-01-01"}}),
    ],
)  # fmt: skip
def test_config_file_scalars_read_as_flags_do(text, expected, tmp_path):
    """Preset scalars follow the --model-arg rule: `010` is ten, `1e-3` a float, `yes` a string."""
    preset = tmp_path / "preset.yaml"
    preset.write_text(text)
    assert read_preset(preset) == expected
    for value in expected.get("model_kwargs", {}).values():
        assert parse_value(str(value)) == value


def test_config_file_numbers_reach_the_resolved_config(tmp_path):
    """A preset with `seed: 010` and `lr: 1e-3` resolves to seed 10 and lr 0.001, as the flags."""
    preset = tmp_path / "preset.yaml"
    preset.write_text("model: convnext_mlp_smoke\nseed: 010\ntrain: {lr: 1e-3}\n")
    cfg = resolve(read_preset(preset))
    assert cfg.seed == 10 and cfg.train.lr == 0.001


def test_a_factory_error_of_any_type_names_the_model(tmp_path, cache):
    """A plug-in factory raising RuntimeError is reported as the model's error (exit 2)."""
    src = tmp_path / "broken.py"
    src.write_text("def make(spec, **kw):\n    raise RuntimeError('needs a GPU library')\n")
    code, output = invoke(SMOKE + ["-m", f"{src}:make"], tmp_path / "runs", cache)
    assert code == 2 and "could not be built" in output and "needs a GPU library" in output


@pytest.fixture
def broken_task():
    """A task registered for one test whose factory raises RuntimeError."""
    from jepa_bench.registry import TASKS

    def make(budget, seed, data_dir, **kw):
        raise RuntimeError("needs a simulator library")

    TASKS.add("broken_for_test", make)
    yield "broken_for_test"
    TASKS.remove("broken_for_test")


def test_a_task_factory_error_of_any_type_names_the_task(broken_task, tmp_path, cache):
    """A task factory raising RuntimeError is reported as the task's error (exit 2), as models."""
    out = tmp_path / "runs"
    code, output = invoke(SMOKE + ["-t", broken_task], out, cache)
    assert code == 2 and "Traceback" not in output, output
    assert f"task {broken_task!r} could not be built" in output
    assert "RuntimeError: needs a simulator library" in output
    assert not out.exists() or not any(out.iterdir())


def test_task_data_that_cannot_be_made_is_one_line_and_exit_4(tmp_path, monkeypatch):
    """arm_sim generation failing every encoder attempt (SimDataError) gives one error line and
    status 4; no run directory and no temporary data folder remain."""
    import errno

    import av

    from jepa_bench.data.robot.arm_sim import dataset as ds

    def failing_encoder(*args, **kwargs):
        av.error.err_check(-errno.EINVAL, "file-000.mp4")  # raises, as libsvtav1 did under load

    monkeypatch.setattr(ds, "write_sim_lerobot", failing_encoder)
    monkeypatch.setattr(ds, "RETRY_DELAY_S", 0.0)
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = [*SMOKE, "-t", "arm_sim", "--out", str(out), "--data-dir", str(cache)]
    with pytest.warns(RuntimeWarning, match="retrying"):
        res = CliRunner().invoke(main, args)
    assert res.exit_code == 4, res.output
    (line,) = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert "data could not be made" in line and "AV1 video encoder" in line
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    assert not out.exists() or not any(out.iterdir())
    assert not any(p.name.count(".tmp-") for p in cache.rglob("*"))


@given(st.integers(0, 10**6))
def test_model_arg_integers_are_decimal(n):
    """`--model-arg width=010` is ten, never octal; floats in any notation stay numbers."""
    assert parse_value(f"{n:03d}") == n
    assert parse_value("1e-3") == 0.001 and parse_value(".5") == 0.5
    assert parse_value("true") is True and parse_value("abc") == "abc"


def test_model_arg_values_reach_the_model(tmp_path):
    """A zero-padded integer reaches the model's config as the decimal number."""
    a = resolve({"model": "convnext_mlp_smoke", "model_kwargs": {"width": parse_value("010")}})
    assert a.model_kwargs == {"width": 10}


def test_a_schedule_must_start_at_zero():
    """A schedule whose first stage is late is refused instead of applied from the start."""
    with pytest.raises(ValueError, match="stage at 0"):
        Schedule.parse("50@0.8")
    assert Schedule.parse("25@0,50@0.8")(0.9) == 50


def test_verify_of_a_folder_without_a_record_exits_2(tmp_path):
    """The docs promise status 2 when nothing can be compared."""
    res = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert res.exit_code == 2 and "result.json" in res.output


# ---- training: resume, non-finite values, concurrency -----------------------------------


def _settings(**kw) -> TrainConfig:
    base = dict(steps=4, batch_size=4, lr=1e-3, weight_decay=0.0, grad_clip=1.0, log_every=1)
    return TrainConfig(**{**base, **kw})


def _train(run_dir: Path, settings: TrainConfig, resume: bool = False, objective=None):
    torch.manual_seed(0)
    model = CONVNEXT_MLP_SMOKE(ToyTask().spec)
    kw = dict(device=torch.device("cpu"), seed=0, run_dir=run_dir, progress=False, resume=resume)
    return train(model, objective or Objective([]), ToyWindows(16, 1), settings, **kw)


def test_resume_counts_every_segment_and_logs_each_step_once(tmp_path):
    """A run stopped at a checkpoint and resumed reports the whole run's samples and time, and
    its log has every step once; resuming a finished run changes neither, nor its last terms."""
    first = _train(tmp_path, _settings(steps=2, checkpoint_every=1))
    assert first.samples == 8
    # the config of a longer run resumes where the shorter one stopped (its last checkpoint)
    done = _train(tmp_path, _settings(steps=4, checkpoint_every=1), resume=True)
    assert done.steps == 4 and done.samples == 16 and done.seconds >= first.seconds
    steps = [json.loads(line)["step"] for line in (tmp_path / "train_log.jsonl").open()]
    assert steps == [0, 1, 2, 3]
    again = _train(tmp_path, _settings(steps=4), resume=True)
    assert (again.steps, again.samples) == (4, 16) and again.seconds == pytest.approx(done.seconds)
    assert done.last_terms and again.last_terms == pytest.approx(done.last_terms)
    assert set(again.last_terms) >= {"loss"}
    assert [json.loads(line)["step"] for line in (tmp_path / "train_log.jsonl").open()] == steps


def test_weights_and_state_of_different_steps_do_not_resume(tmp_path):
    """A model file of one step with optimiser state of another is refused, naming both."""
    _train(tmp_path, _settings(steps=2))
    model = CONVNEXT_MLP_SMOKE(ToyTask().spec)
    ckpt.save_model(model, tmp_path, step=7)
    with pytest.raises(ckpt.CheckpointError, match="step 7.*step 2"):
        _train(tmp_path, _settings(steps=4), resume=True)


@pytest.mark.parametrize("broken", [ckpt.MODEL_FILE, ckpt.STATE_FILE])
def test_missing_or_corrupt_checkpoints_are_named(tmp_path, broken):
    """--resume with one file missing, or truncated, names that file."""
    _train(tmp_path, _settings(steps=2))
    (tmp_path / broken).write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match=broken):
        _train(tmp_path, _settings(steps=4), resume=True)
    (tmp_path / broken).unlink()
    with pytest.raises(ckpt.CheckpointError, match=f"{broken} is missing"):
        _train(tmp_path, _settings(steps=4), resume=True)


class NaNGradient(Objective):
    """A finite loss (0) whose gradient is NaN: sqrt at zero."""

    def forward(self, lat, progress: float = 0.0):
        zero = (lat.pred - lat.pred.detach()).pow(2).sum()
        return {"loss": torch.sqrt(zero)}


def test_a_non_finite_gradient_is_never_applied(tmp_path):
    """A NaN gradient under a finite loss stops training before the optimiser step; the saved
    weights are the (finite) ones before it."""
    with pytest.raises(NonFiniteLossError, match="non-finite gradient at step 0"):
        _train(tmp_path, _settings(), objective=NaNGradient([]))
    weights = ckpt.load_file(str(tmp_path / ckpt.MODEL_FILE))
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_a_huge_learning_rate_keeps_finite_last_good_weights(tmp_path):
    """With lr 1e30 training stops at the first non-finite value; the kept weights are finite."""
    with pytest.raises(NonFiniteLossError):
        _train(tmp_path, _settings(lr=1e30, steps=20))
    weights = ckpt.load_file(str(tmp_path / ckpt.MODEL_FILE))
    assert all(torch.isfinite(v).all() for v in weights.values())


def _failing(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    "patched, kept",
    [("torch.nn.utils.clip_grad_norm_", False), ("jepa_bench.runner.execute.evaluate_both", True)],
)
def test_a_run_failing_at_run_time_keeps_its_directory_only_with_a_checkpoint(
    patched, kept, tmp_path, cache, monkeypatch
):
    """An error in the first training step removes the run directory (config and empty log);
    one in evaluation keeps it with its checkpoint; the error line says which."""
    from jepa_bench.runner import RunFailedError

    monkeypatch.setattr(patched, _failing)
    out = tmp_path / "runs"
    res = CliRunner().invoke(
        main, SMOKE + TINY_TASK + ["--out", str(out), "--data-dir", str(cache)]
    )
    assert res.exit_code == 1 and isinstance(res.exception, RunFailedError)
    message = str(res.exception)
    assert "RuntimeError: boom" in message
    assert isinstance(res.exception.__cause__, RuntimeError)
    if kept:
        (rundir,) = out.iterdir()
        assert f"kept {rundir}" in message and (rundir / ckpt.MODEL_FILE).is_file()
        assert not (rundir / "result.json").exists()
    else:
        assert "removed" in message and "no checkpoint" in message
        assert list(out.iterdir()) == []


def test_a_non_finite_loss_exits_3_and_keeps_the_last_good_weights(tmp_path, cache):
    """`run --lr 1e30` stops on the first non-finite loss: status 3, one line, weights kept."""
    out = tmp_path / "runs"
    code, output = invoke(SMOKE + TINY_TASK + ["--lr", "1e30"], out, cache)
    assert code == 3 and "Traceback" not in output, output
    assert "error: non-finite loss at step" in output
    (rundir,) = out.iterdir()
    assert ckpt.saved_step(rundir / ckpt.MODEL_FILE) >= 0 and not (rundir / "result.json").exists()


@pytest.mark.parametrize("broken", [ckpt.MODEL_FILE, ckpt.STATE_FILE])
def test_resume_from_a_corrupt_checkpoint_exits_2(broken, tmp_path, cache, monkeypatch):
    """`run --resume` of a run whose checkpoint file is corrupt names the file, status 2, and
    leaves the run directory as it was."""
    from jepa_bench.runner import execute

    def evaluate(model, task, cfg, **kw):  # the run's scores do not matter here
        return execute.EvalResult({"probe/normal": 1.0}, {"probe/normal": False})

    monkeypatch.setattr(execute, "evaluate", evaluate)
    out = tmp_path / "runs"
    assert invoke(SMOKE + TINY_TASK, out, cache)[0] == 0
    (rundir,) = out.iterdir()
    (rundir / broken).write_bytes(b"not a checkpoint")
    before = sorted(p.name for p in rundir.iterdir())
    code, output = invoke(SMOKE + TINY_TASK + ["--resume"], out, cache)
    assert code == 2 and broken in output and "Traceback" not in output, output
    assert sorted(p.name for p in rundir.iterdir()) == before
    assert (rundir / broken).read_bytes() == b"not a checkpoint"


def test_two_runs_of_one_config_never_share_a_directory(tmp_path):
    """While one process holds a run directory, a second run of the same config fails at once."""
    cfg = resolve({"model": "convnext_mlp_smoke", "budget": "smoke", "out": str(tmp_path),
                   "data_dir": str(tmp_path / "cache"), "task_kwargs": {"train": 16}})  # fmt: skip
    from jepa_bench.runner.build import run_id_for

    rundir = RunDir(tmp_path / run_id_for(cfg))
    with rundir.lock():
        with pytest.raises(RunDirError, match=f"in use.*process {os.getpid()}"):
            execute_run(cfg, progress=False)
    assert not rundir.result_file.exists()


def test_concurrent_saves_use_their_own_temporary_files(tmp_path):
    """Checkpoints written at once by two threads both land, and no temporary file remains."""
    model = CONVNEXT_MLP_SMOKE(ToyTask().spec)
    threads = [threading.Thread(target=ckpt.save_model, args=(model, tmp_path, i)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ckpt.saved_step(tmp_path / ckpt.MODEL_FILE) in (1, 2)
    assert [p.name for p in tmp_path.iterdir()] == [ckpt.MODEL_FILE]


def test_written_files_are_not_private(tmp_path):
    """Records and checkpoints get the usual permissions, not mkstemp's 0600."""
    from jepa_bench.record.io import write_json

    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {"a": 1})
        ckpt.save_model(CONVNEXT_MLP_SMOKE(ToyTask().spec), tmp_path, 1)
    finally:
        os.umask(mask)
    for name in ("x.json", ckpt.MODEL_FILE):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
