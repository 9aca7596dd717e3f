"""The chunk-aligned, atomic HDF5 writer, and what an interrupted conversion leaves behind."""

from __future__ import annotations

import threading

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lerobot_fixtures import build_dataset

from jepa_bench.convert import ConvertOptions, convert_lerobot, pipeline
from jepa_bench.convert.hdf5_writer import AtomicH5Writer, ChunkedAppender
from jepa_bench.convert.report import ConversionError
from jepa_bench.convert.watchdog import StallError


class RecordingDataset:
    """Stands in for an h5py dataset and records the row ranges written."""

    def __init__(self, row_shape=(2,)):
        self.data = np.zeros((0, *row_shape), np.float32)
        self.dtype, self.name, self.writes = self.data.dtype, "/x", []

    @property
    def shape(self):
        return self.data.shape

    def resize(self, n, axis=0):
        grown = np.zeros((n, *self.data.shape[1:]), self.data.dtype)
        keep = min(n, len(self.data))
        grown[:keep] = self.data[:keep]
        self.data = grown

    def __setitem__(self, key, value):
        self.writes.append((key.start, key.stop))
        self.data[key] = value


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 40)),
        st.tuples(st.just("truncate"), st.floats(0, 1)),
    ),
    max_size=25,
)


@given(st.integers(1, 16), ops)
@settings(max_examples=80, deadline=None)
def test_appender_equals_concatenation_and_writes_whole_chunks(chunk, steps):
    """Appends and truncations give the same rows as numpy; writes start on chunk boundaries."""
    ds = RecordingDataset()
    app = ChunkedAppender(ds, chunk)
    ref = np.zeros((0, 2), np.float32)
    counter = 0
    truncated = False
    for op, arg in steps:
        if op == "append":
            rows = np.arange(counter, counter + 2 * arg, dtype=np.float32).reshape(arg, 2)
            counter += 2 * arg
            app.append(rows)
            ref = np.concatenate([ref, rows])
        else:
            n = int(arg * len(ref))
            truncated |= n < len(ref)
            app.truncate(n)
            ref = ref[:n]
        assert app.n_rows == len(ref)
    app.flush()
    assert np.array_equal(ds.data, ref)
    if not truncated:  # without a rollback every write is a whole, aligned chunk but the last
        assert all(lo % chunk == 0 for lo, _hi in ds.writes)
        assert all(hi - lo == chunk for lo, hi in ds.writes[:-1])


def test_appender_rejects_wrong_row_shape():
    """Rows of the wrong shape are refused with the dataset's name."""
    with pytest.raises(ValueError, match="/x"):
        ChunkedAppender(RecordingDataset(), 4).append(np.zeros((3, 5), np.float32))


def test_atomic_writer_commit_and_failure(tmp_path):
    """A committed file appears under its name; an exception leaves neither file nor temp file."""
    out = tmp_path / "a.h5"
    with AtomicH5Writer(out, chunk_rows=4) as w:
        col = w.column("x", (), np.int64)
        col.append(np.arange(6))
        w.end_episode()
        col.append(np.arange(3))
        w.end_episode()
        col.append(np.arange(2))  # an unfinished episode is not part of the file
        assert w.tmp_path.exists() and not out.exists()
        w.commit({"note": "ok", "opts": {"a": 1}, "skip": None})
    with h5py.File(out) as f:
        assert f["x"][:].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2]
        assert f["ep_len"][:].tolist() == [6, 3] and f["ep_offset"][:].tolist() == [0, 6]
        assert f.attrs["opts"] == '{"a": 1}' and "skip" not in f.attrs
    out2 = tmp_path / "b.h5"
    with pytest.raises(RuntimeError, match="boom"), AtomicH5Writer(out2) as w:
        w.column("x", (), np.int64).append(np.arange(3))
        raise RuntimeError("boom")
    assert not out2.exists() and not w.tmp_path.exists()
    with pytest.raises(FileExistsError):
        AtomicH5Writer(out)


def test_failed_validation_leaves_nothing(tmp_path):
    """If validation of the finished temp file fails, no output file appears."""
    out = tmp_path / "a.h5"

    def reject(path):
        raise ConversionError(f"{path}: rejected")

    with pytest.raises(ConversionError, match="rejected"), AtomicH5Writer(out) as w:
        w.column("x", (), np.int64).append(np.arange(3))
        w.end_episode()
        w.commit({}, reject)
    assert not out.exists() and not w.tmp_path.exists()


def test_columns_must_agree_per_episode(tmp_path):
    """Ending an episode whose columns have different row counts is an error."""
    with AtomicH5Writer(tmp_path / "a.h5") as w:
        w.column("x", (), np.int64).append(np.arange(3))
        w.column("y", (), np.int64).append(np.arange(2))
        with pytest.raises(RuntimeError, match="disagree"):
            w.end_episode()


@pytest.fixture(scope="module")
def small_v3(tmp_path_factory):
    return build_dataset(tmp_path_factory.mktemp("w") / "ds", "v3.0", "libx264", (9, 8, 10))


def test_stalled_decoder_aborts_conversion(small_v3, tmp_path, monkeypatch):
    """A decoder that hangs trips the stall timeout; no output or temp file is left."""
    release = threading.Event()
    real = pipeline.decode_episode

    def hanging(path, timestamps, fps, resizer, episode, *args, **kw):
        frames = real(path, timestamps, fps, resizer, episode, *args, **kw)
        for i, frame in enumerate(frames):
            if episode == 1 and i == 3:
                release.wait(30)
            yield frame

    monkeypatch.setattr(pipeline, "decode_episode", hanging)
    out = tmp_path / "o.h5"
    opts = ConvertOptions(size=(16, 16), stall_timeout_s=0.3, progress=False)
    with pytest.raises(StallError, match="decoding episode 1"):
        convert_lerobot(small_v3, out, opts, log=lambda line: None)
    release.set()
    assert not out.exists() and not (tmp_path / "o.h5.tmp").exists()


def test_interrupt_midway_leaves_nothing(small_v3, tmp_path, monkeypatch):
    """An interrupt (Ctrl-C) in the middle of writing removes the temporary file."""
    real = pipeline.decode_episode

    def interrupted(path, timestamps, fps, resizer, episode, *args, **kw):
        for i, frame in enumerate(real(path, timestamps, fps, resizer, episode, *args, **kw)):
            if episode == 2 and i == 5:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(pipeline, "decode_episode", interrupted)
    out = tmp_path / "o.h5"
    opts = ConvertOptions(size=(16, 16), progress=False)
    with pytest.raises(KeyboardInterrupt):
        convert_lerobot(small_v3, out, opts, lambda line: None)
    assert not out.exists() and not (tmp_path / "o.h5.tmp").exists()
    assert '"status": "failed"' in (tmp_path / "o.report.json").read_text()
