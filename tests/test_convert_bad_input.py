"""Bad inputs to ``convert`` and ``inspect``: each ends in a named error and nothing half-written.

A bad input (an option, a malformed file) is one line naming it, exit code 2; dirty data follows
the dirty-episode policy; SIGINT / SIGTERM stop a conversion promptly without leaving ``OUT.tmp``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import weakref

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from lerobot_fixtures import assert_frames_match_sources, build_dataset, edit_parquet, v3_data

from jepa_bench.cli import main
from jepa_bench.convert import ConvertOptions, convert_lerobot, layout, open_lewm_h5, pipeline
from jepa_bench.convert.interrupt import InterruptGuard
from jepa_bench.convert.layout import check_lewm_h5
from jepa_bench.convert.report import (
    BadSourceError,
    ConversionInterrupted,
    DirtyDataError,
    OutputExistsError,
)

LENGTHS = (6, 7, 5, 6)
CAMERA = "observation.images.laptop"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A small v3.0 dataset (h264, fast to write and decode) and its converted output."""
    base = tmp_path_factory.mktemp("bad_input")
    root = build_dataset(base / "ds", "v3.0", "libx264", LENGTHS, done=True)
    run(root, base / "converted" / "o.h5")
    return root, base / "converted"


@pytest.fixture
def v3(clean, tmp_path):
    return shutil.copytree(clean[0], tmp_path / "v3")


def run(root, out, policy="fail", log=lambda line: None, **kw):
    opts = ConvertOptions(size=(16, 16), progress=False, dirty_episode_policy=policy, **kw)
    return convert_lerobot(root, out, opts, log=log)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, code, *needles):
    """Exit ``code`` and exactly one ``Error:`` line, containing every needle."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_nothing_written(out, status="failed"):
    assert not out.exists(), "an output file was left"
    assert not out.with_name(out.name + ".tmp").exists(), "a temporary file was left behind"
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["status"] == status and report["error"]


# inspect: files that are not in the layout ----------------------------------------------------


def write_layout(path, ep_len=(2, 3), **extra):
    """A valid file in the layout; ``extra`` adds or replaces per-step columns."""
    ep_len = np.asarray(ep_len, np.int64)
    n = int(ep_len.sum())
    offsets = np.concatenate([[0], np.cumsum(ep_len)[:-1]]).astype(np.int64)
    done = np.zeros(n, bool)
    done[offsets + ep_len - 1] = True
    cols = {
        "pixels": np.zeros((n, 8, 8, 3), np.uint8),
        "action": np.ones((n, 2), np.float32),
        "episode_idx": np.repeat(np.arange(len(ep_len)), ep_len),
        "step_idx": np.concatenate([np.arange(k) for k in ep_len]),
        "done": done,
        **extra,
    }
    with h5py.File(path, "w") as f:
        for name, values in cols.items():
            f.create_dataset(name, data=values, chunks=(2, *np.shape(values)[1:]))
        f["ep_len"], f["ep_offset"] = ep_len, offsets
    return path


def _replace(f, name, value):
    del f[name]
    if isinstance(value, str):
        f.create_group(name)
    else:
        f[name] = value


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("ep_len", np.array([[2, 3]]), "'ep_len' has shape (1, 2)"),
        ("ep_len", "group", "'ep_len' is a group"),
        ("ep_offset", "group", "'ep_offset' is a group"),
        ("ep_len", np.array([2.0, 3.0]), "'ep_len' has shape (2,) and dtype float64"),
        ("ep_len", np.int64(5), "'ep_len' has shape ()"),
    ],
)
def test_malformed_episode_table(tmp_path, name, value, needle):
    """An episode table that is 2-D, a group or not integers: a ValueError naming it, exit 2."""
    path = write_layout(tmp_path / "bad.h5")
    with h5py.File(path, "a") as f:
        _replace(f, name, value)
    with pytest.raises(ValueError, match=re.escape(needle)):
        open_lewm_h5(path)
    assert_one_line_error(cli("inspect", path), 2, needle, "bad.h5")
    assert_one_line_error(cli("inspect", path, "--json"), 2, needle)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("episode_idx", np.zeros((5, 2), np.int64)),
        ("step_idx", np.zeros(5, np.float32)),
        ("done", np.ones((5, 1), bool)),
    ],
)
def test_malformed_index_columns_are_errors(tmp_path, name, value):
    """Per-step index columns of the wrong rank or dtype are check errors (exit 1), not crashes."""
    path = write_layout(tmp_path / "bad.h5", **{name: value})
    result = cli("inspect", path)
    assert result.exit_code == 1, result.output
    assert f"error: column {name!r} has shape {value.shape}" in result.output


def test_missing_file_is_a_bad_input(tmp_path):
    """inspect of a file that does not exist, or is not HDF5: one line, exit 2."""
    assert_one_line_error(cli("inspect", tmp_path / "none.h5"), 2, "none.h5", "no such file")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    assert_one_line_error(cli("inspect", tmp_path / "junk.h5"), 2, "not a readable HDF5")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("row_shape", [(), (2,), (2, 3), (4, 4, 3)])
def test_nan_in_float_columns_of_any_rank(tmp_path, row_shape, bad):
    """NaN or inf in a float column of any rank (1-D to 4-D) is an error naming column and row."""
    values = np.zeros((5, *row_shape), np.float32)
    values.reshape(5, -1)[3, -1] = bad
    path = write_layout(tmp_path / "nan.h5", feature=values)
    with open_lewm_h5(path) as h5:
        errors = check_lewm_h5(h5).errors
        assert layout._first_nonfinite_row(h5.columns["feature"], block_mb=1e-9) == 3  # row blocks
    message = "column 'feature' has NaN or infinite values (first at row 3)"
    assert errors == [message]
    result = cli("inspect", path)
    assert result.exit_code == 1 and message in result.output


# convert: malformed metadata and bad options -----------------------------------------------------


def _info(edit):
    def apply(root):
        path = root / "meta" / "info.json"
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))

    return apply


def _feature(key, value):
    return _info(lambda d: {**d, "features": {**d["features"], key: value}})


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (_info(lambda d: [d]), "info.json: expected a JSON object, got a list"),
        (_info(lambda d: "v3.0"), "info.json: expected a JSON object, got a string"),
        (_info(lambda d: 3), "info.json: expected a JSON object, got the number 3"),
        (_info(lambda d: {**d, "features": list(d["features"])}), "'features' must be an object"),
        (_info(lambda d: {**d, "fps": "30"}), "'fps' must be a positive number, got '30'"),
        (_info(lambda d: {**d, "data_path": None}), "'data_path' must be a string, got null"),
        (_info(lambda d: {**d, "data_path": "data/{chunk}.parquet"}), "has an unknown field"),
        (_info(lambda d: {**d, "total_frames": "24"}), "'total_frames' must be an integer"),
        (_feature("action", [6]), "feature 'action' must be an object, got a list"),
        (_feature(CAMERA, {"dtype": "video", "shape": ["h", 64, 3]}), "not a list of integers"),
        (_feature("action", {"dtype": "float32", "shape": "six"}), "feature 'action' has shape"),
    ],
)
def test_malformed_info_json(v3, tmp_path, edit, needle):
    """info.json of the wrong type or shape: a one-line BadSourceError naming it; CLI exit 2."""
    edit(v3)
    out = tmp_path / "o.h5"
    with pytest.raises(BadSourceError, match=re.escape(needle)) as err:
        run(v3, out)
    assert "info.json" in str(err.value) and "\n" not in str(err.value)
    assert_nothing_written(out)
    result = cli("convert", v3, tmp_path / "c.h5", "--no-progress")
    assert_one_line_error(result, 2, needle, "info.json", "c.report.json")
    assert_nothing_written(tmp_path / "c.h5")


def test_malformed_episode_table_v3(v3, tmp_path):
    """A null in the v3.0 episode table's lengths names the table and the column."""
    meta = v3 / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    edit_parquet(meta, lambda df: df.assign(length=[None, *df["length"][1:]]))
    result = cli("convert", v3, tmp_path / "o.h5", "--no-progress")
    assert_one_line_error(result, 2, "meta/episodes: column 'length' must hold integers")
    assert_nothing_written(tmp_path / "o.h5")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--micro-batch", "0"], "--micro-batch must be >= 1"),
        (["--decode-threads", "-1"], "--decode-threads must be >= 0"),
        (["--episodes", "0,9"], "--episodes [9]: not in the dataset"),
        (["--action-key", "nope"], "--action-key 'nope': no such numeric feature"),
        (["--state-key", CAMERA], f"--state-key {CAMERA!r}: no such numeric feature"),
        (["--camera", "observation.images.wrist"], "--camera 'observation.images.wrist'"),
        (["--report", "{tmp}"], "--report"),  # a folder
        (["--report", "{tmp}/o.h5"], "is the output file itself"),
        (["--report", "{tmp}/a_file/r.json"], "--report"),  # cannot be written
        (["--size", "0x5"], "--size"),
        (["--episodes", ","], "--episodes names no episode"),
        (["--stall-timeout", "-1"], "--stall-timeout must be >= 0"),
        (["--micro-batch", "100000"], "HDF5 chunks must stay under 4 GiB (28532 frames at most)"),
    ],
)
def test_bad_options(clean, tmp_path, args, needle):
    """An unusable option: one line naming it, exit 2, and no output."""
    (tmp_path / "a_file").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = tmp_path / "o.h5"
    assert_one_line_error(cli("convert", clean[0], out, "--no-progress", *args), 2, needle)
    assert not out.exists() and not out.with_name("o.h5.tmp").exists()


def test_declared_width_differs_from_the_rows(v3, tmp_path):
    """A feature declared wider than its parquet rows is dirty data named before decoding."""
    _feature("action", {"dtype": "float32", "shape": [7]})(v3)
    with pytest.raises(DirtyDataError, match="column_shape") as err:
        run(v3, tmp_path / "o.h5")
    assert "'action' rows hold 6 value(s), info.json declares 7 per row" in str(err.value)
    assert_nothing_written(tmp_path / "o.h5")


# convert: an existing output and its report are never touched ---------------------------------


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        ([], 2, "o.h5 exists; pass --overwrite"),
        (["--report", "{tmp}/new.json"], 2, "o.h5 exists; pass --overwrite"),
        (["--dry-run"], 0, "its report"),
        (["--dry-run", "--overwrite"], 0, "its report"),
        (["--dry-run", "--report", "{tmp}/new.json"], 0, "plan:"),
    ],
)
def test_existing_output_and_its_report_are_left_alone(clean, tmp_path, args, code, needle):
    """convert onto an existing output, or a dry run of it, changes neither it nor its report."""
    shutil.copytree(clean[1], tmp_path, dirs_exist_ok=True)
    out, report = tmp_path / "o.h5", tmp_path / "o.report.json"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out, report)}
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = cli("convert", clean[0], out, "--no-progress", *args)
    if code:
        assert_one_line_error(result, code, needle)
    else:
        assert result.exit_code == 0 and needle in result.output, result.output
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out, report)} == before
    assert not out.with_name("o.h5.tmp").exists()
    new = tmp_path / "new.json"
    assert new.exists() == ("--dry-run" in args and "--report" in args)
    if new.exists():
        assert json.loads(new.read_text())["status"] == "dry-run"
    if not args:
        with pytest.raises(OutputExistsError) as err:
            run(clean[0], out)
        assert isinstance(err.value, FileExistsError)
        assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out, report)} == before


# convert: dirty rows under the warn policy ----------------------------------------------------


@pytest.mark.parametrize(("column", "bad"), [("action", np.nan), ("observation.state", np.inf)])
def test_nan_under_warn_drops_the_episode_before_decoding(v3, tmp_path, monkeypatch, column, bad):
    """warn: an episode with NaN / inf in a converted column is dropped, named, never decoded."""

    def poison(df):
        i = df.index[df["episode_index"] == 2][3]
        df.at[i, column] = np.full(6, bad, dtype=np.float32)
        return df

    edit_parquet(v3_data(v3), poison)
    decoded = []
    real = pipeline.decode_episode

    def recording(path, timestamps, fps, resizer, episode, *args, **kwargs):
        decoded.append(episode)
        return real(path, timestamps, fps, resizer, episode, *args, **kwargs)

    monkeypatch.setattr(pipeline, "decode_episode", recording)
    logs: list[str] = []
    out = tmp_path / "o.h5"
    report = run(v3, out, "warn", log=logs.append)
    assert report.status == "ok" and report.episodes_dropped == [2] and decoded == [0, 1, 3]
    (issue,) = [i for i in report.issues if i.kind == "nan_values"]
    assert issue.action == "dropped" and issue.episode == 2
    assert f"{column!r} has NaN or infinite values (1 rows, first at frame 3)" in issue.message
    assert any(line.startswith("dropped: [nan_values] episode 2") for line in logs)
    with open_lewm_h5(out) as h5:
        assert check_lewm_h5(h5).ok and 2 not in set(h5.episode_idx.tolist())
        assert_frames_match_sources(h5)


# convert: SIGINT and SIGTERM ------------------------------------------------------------------

# Runs the CLI with a decoder slowed down after its third frame (0.5 s a frame), so that the
# signal lands mid-conversion; every frame decoded from then on is printed as FRAME, so the test
# counts frames, not seconds: the 21 frames left would all be printed if the signal were ignored.
SLOW_CLI = """
import sys, time
from jepa_bench.convert import pipeline
real = pipeline.decode_episode
def slow(*args, **kwargs):
    for i, frame in enumerate(real(*args, **kwargs)):
        if i == 2:
            print("DECODING", file=sys.stderr, flush=True)
        elif i > 2:
            print("FRAME", file=sys.stderr, flush=True)
        time.sleep(0.5 if i >= 2 else 0.0)
        yield frame
pipeline.decode_episode = slow
from jepa_bench.cli import main
main(sys.argv[1:], prog_name="jepa-bench")
"""


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_stops_a_real_conversion(clean, tmp_path, sig, code):
    """SIGINT / SIGTERM mid-decoding: prompt exit 130 / 143, one line, no OUT.tmp, a report."""
    out = tmp_path / "o.h5"
    cmd = [
        sys.executable,
        "-c",
        SLOW_CLI,
        "convert",
        clean[0],
        out,
        "--no-progress",
        "--size",
        "16",
    ]
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "DECODING" in line:
                break
        assert out.with_name("o.h5.tmp").exists(), "the conversion did not reach decoding"
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, rest
    frames_after = rest.splitlines().count("FRAME")
    assert frames_after <= 2, f"{frames_after} frames decoded after the signal (21 were left)"
    report = tmp_path / "o.report.json"
    errors = [line for line in rest.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: interrupted by {sig.name} while decoding episode 0 camera {CAMERA}; "
        f"nothing written (report: {report})"
    ], rest
    assert_nothing_written(out, status="interrupted")


def _sigint_inside_a_weakref_callback() -> None:
    """Deliver SIGINT while a weakref callback runs: its exception is printed and dropped."""

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda _ref: signal.raise_signal(signal.SIGINT))
    del thing  # the callback runs now; the handler raises inside it
    assert ref() is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_interrupt_lost_in_a_callback_still_stops(clean, tmp_path, monkeypatch):
    """Ctrl-C whose exception is swallowed (raised in a weakref callback, as happens when h5py or
    PyAV objects are freed) still stops the conversion at the next frame."""
    lost: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: lost.append(u.exc_value))
    frames = []
    real_beat = pipeline.Watchdog.beat

    def beat(self, n=1):
        real_beat(self, n)
        frames.append(n)
        if len(frames) == 3:
            _sigint_inside_a_weakref_callback()

    monkeypatch.setattr(pipeline.Watchdog, "beat", beat)
    out = tmp_path / "o.h5"
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(ConversionInterrupted, match="SIGINT while decoding episode 0"):
        run(clean[0], out)
    assert lost and isinstance(lost[0], ConversionInterrupted)  # the first raise was lost
    assert len(frames) == 3  # and the next frame was not written
    assert_nothing_written(out, status="interrupted")
    assert signal.getsignal(signal.SIGINT) is handler  # the handler is restored


@pytest.fixture
def usr1():
    """SIGUSR1 with a recording handler (the guard's behaviour without touching SIGINT)."""
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    yield got
    signal.signal(signal.SIGUSR1, previous)


def test_guard_raises_then_restores(usr1):
    """A signal raises ConversionInterrupted naming it and the stage; the handler is restored."""
    with pytest.raises(ConversionInterrupted, match="SIGUSR1 while testing") as err:
        with InterruptGuard((signal.SIGUSR1,)) as guard:
            guard.stage = "testing"
            signal.raise_signal(signal.SIGUSR1)
    assert err.value.signum == signal.SIGUSR1 and usr1 == []
    signal.raise_signal(signal.SIGUSR1)
    assert usr1 == [signal.SIGUSR1]


def test_guard_passes_on_a_signal_once_disarmed(usr1):
    """After disarm() (the output is complete) a signal is recorded, then passed on at exit."""
    with InterruptGuard((signal.SIGUSR1,)) as guard:
        guard.disarm()
        signal.raise_signal(signal.SIGUSR1)
        guard.check()
        assert usr1 == []
    assert usr1 == [signal.SIGUSR1]


def test_guard_keeps_an_ignored_signal_ignored_and_needs_the_main_thread(usr1):
    """SIG_IGN set by the parent stays; off the main thread the guard installs nothing."""
    recorder = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    with InterruptGuard((signal.SIGUSR1,)) as guard:
        signal.raise_signal(signal.SIGUSR1)
        guard.check()
    assert guard.signum is None and signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
    signal.signal(signal.SIGUSR1, recorder)
    seen = []

    def worker():
        with InterruptGuard((signal.SIGUSR1,)):
            seen.append(signal.getsignal(signal.SIGUSR1))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert seen == [recorder]
