"""End-to-end conversion of small LeRobot v2.1 / v3.0 datasets: every frame from its source."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from lerobot_fixtures import (
    CAMERAS,
    assert_frames_match_sources,
    build_dataset,
    edit_parquet,
    identity_frame,
    row_values,
    v3_data,
)

from jepa_bench.convert import ConvertOptions, convert_lerobot, open_lewm_h5
from jepa_bench.convert.report import DirtyDataError

LENGTHS = (12, 17, 9, 14, 11)


def _opts(**kw) -> ConvertOptions:
    kw.setdefault("size", (32, 32))
    return ConvertOptions(progress=False, **kw)


def _convert(root, out, **kw):
    return convert_lerobot(root, out, _opts(**kw), log=lambda line: None)


@pytest.fixture(scope="module")
def v3_av1(tmp_path_factory):
    """v3.0, AV1, two cameras, five episodes in two shared files (3 + 2 episodes per mp4)."""
    root = tmp_path_factory.mktemp("v3") / "ds"
    return build_dataset(root, "v3.0", "libsvtav1", LENGTHS, cameras=2, episodes_per_file=3)


def test_v3_every_episode_gets_its_own_frames(v3_av1, tmp_path):
    """Multi-episode v3.0: each HDF5 frame is the source frame of its episode and step."""
    out = tmp_path / "out.h5"
    report = _convert(v3_av1, out)
    assert report.status == "ok" and report.frames_written == sum(LENGTHS)
    with open_lewm_h5(out) as h5:
        assert h5.ep_len.tolist() == list(LENGTHS)
        assert h5.ep_offset.tolist() == np.concatenate([[0], np.cumsum(LENGTHS)[:-1]]).tolist()
        assert sorted(set(h5.episode_idx.tolist())) == list(range(len(LENGTHS)))
        assert_frames_match_sources(h5)
        assert h5.pixels.shape == (sum(LENGTHS), 32, 32, 3)
        for i, n in enumerate(LENGTHS):
            rows = h5.episode(i)
            assert np.allclose(h5.columns["action"][rows], row_values(i, n))
            assert np.allclose(h5.columns["proprio"][rows], row_values(i, n, offset=0.5))
            assert np.array_equal(h5.columns["step_idx"][rows], np.arange(n))
            assert h5.done[rows].tolist() == [False] * (n - 1) + [True]
        assert h5.attrs["camera"] == CAMERAS[0] and h5.attrs["codebase_version"] == "v3.0"
        assert h5.attrs["fps"] == 30.0 and h5.attrs["options"]["size"] == [32, 32]


@pytest.mark.parametrize(
    ("version", "codec"),
    [("v2.1", "libx264"), ("v2.1", "libsvtav1"), ("v3.0", "libx264"), ("v3.0", "libx265")],
)
def test_other_layouts_and_codecs(tmp_path, version, codec):
    """v2.1 per-episode files, h264 and hevc video convert frame-exactly as well."""
    root = build_dataset(tmp_path / "ds", version, codec, (8, 13, 10), done=True)
    out = tmp_path / "out.h5"
    _convert(root, out, require_done=True)
    with open_lewm_h5(out) as h5:
        assert h5.ep_len.tolist() == [8, 13, 10]
        assert_frames_match_sources(h5)
        assert "done" in h5.columns and h5.done.sum() == 3


def test_extra_cameras_as_datasets_and_files(v3_av1, tmp_path):
    """The second camera lands in pixels_phone, or in its own complete file, frame-exactly."""
    out = tmp_path / "a.h5"
    _convert(v3_av1, out, extra_cameras="datasets")
    with open_lewm_h5(out) as h5:
        assert h5.pixel_keys == ["pixels", "pixels_phone"]
        assert_frames_match_sources(h5, "pixels_phone", camera=1)
        assert h5.attrs["cameras"] == {"pixels": CAMERAS[0], "pixels_phone": CAMERAS[1]}
    out = tmp_path / "b.h5"
    _convert(v3_av1, out, extra_cameras="files", camera=CAMERAS[1])
    other = tmp_path / "b__laptop.h5"
    with open_lewm_h5(out) as h5, open_lewm_h5(other) as h5b:
        assert_frames_match_sources(h5, camera=1)
        assert_frames_match_sources(h5b, camera=0)
        assert h5b.attrs["camera"] == CAMERAS[0]
        assert np.array_equal(h5.columns["action"][:], h5b.columns["action"][:])


@pytest.mark.parametrize("fit", ["stretch", "pad", "crop"])
def test_fit_modes_place_the_frame_right(tmp_path, fit):
    """Stretch and pad keep every block readable (pad inside black bars); crop keeps the centre."""
    root = build_dataset(tmp_path / "ds", "v3.0", "libx264", (6, 7), hw=(48, 96))
    out = tmp_path / "out.h5"
    _convert(root, out, size=(48, 48), fit=fit)
    with open_lewm_h5(out) as h5:
        px = h5.pixels[:]
        assert px.shape[1:] == (48, 48, 3)
        if fit == "stretch":
            assert_frames_match_sources(h5)
        elif fit == "pad":  # 48x96 -> 24x48, centred: black bars of 12 rows above and below
            assert px[:, :12].max() == 0 and px[:, 36:].max() == 0
            assert_frames_match_sources(h5, box=(12, 0, 36, 48))
        else:  # 48x96 at scale 1, centre 48 columns: source columns 24..72
            ep, step = h5.episode_idx, h5.columns["step_idx"][:]
            for i in range(len(px)):
                want = identity_frame(int(ep[i]), int(step[i]), 0, (48, 96))[:, 24:72]
                assert np.abs(px[i].astype(int) - want).mean() < 20, i


def test_subset_compression_and_chunks(v3_av1, tmp_path):
    """--episodes picks source episodes; chunks are micro-batch rows; gzip is applied."""
    out = tmp_path / "out.h5"
    _convert(v3_av1, out, episodes=[1, 3], micro_batch=8, compression="gzip")
    with open_lewm_h5(out) as h5:
        assert h5.ep_len.tolist() == [LENGTHS[1], LENGTHS[3]]
        assert sorted(set(h5.episode_idx.tolist())) == [1, 3]
        assert_frames_match_sources(h5)
        assert h5.pixels.chunks == (8, 32, 32, 3) and h5.pixels.compression == "gzip"
        assert h5.columns["action"].chunks == (8, 6)


def test_native_size_without_compression(tmp_path):
    """size=None keeps the source resolution; compression none stores raw chunks."""
    root = build_dataset(tmp_path / "ds", "v2.1", "libx264", (5, 6))
    out = tmp_path / "out.h5"
    _convert(root, out, size=None, compression="none")
    with open_lewm_h5(out) as h5:
        assert h5.pixels.shape == (11, 48, 64, 3) and h5.pixels.compression is None
        assert_frames_match_sources(h5)


def test_lewm_reader_reads_the_output(v3_av1, tmp_path):
    """The file reads the way stable-worldmodel's HDF5 reader reads it (SWMR, all columns)."""
    out = tmp_path / "out.h5"
    _convert(v3_av1, out)
    with h5py.File(out, "r", swmr=True, rdcc_nbytes=256 * 1024 * 1024) as f:
        lengths, offsets = f["ep_len"][:], f["ep_offset"][:]
        keys = [k for k in f.keys() if k not in ("ep_len", "ep_offset")]
        for ep in range(len(lengths)):
            lo, hi = offsets[ep], offsets[ep] + lengths[ep]
            for col in keys:
                data = f[col][lo:hi]
                assert len(data) == lengths[ep] and data.dtype.kind in "biuf", col
            px = f["pixels"][lo:hi]
            assert px.ndim == 4 and px.shape[-1] == 3 and (f["episode_idx"][lo:hi] == ep).all()


def test_timestamp_jitter_tolerated_shift_refused(v3_av1, tmp_path):
    """Rows off the frame grid by 0.3 period still match; 0.7 period names the episode."""
    import shutil

    for shift, ok in ((0.3, True), (0.7, False)):
        root = tmp_path / f"ds{shift}"
        shutil.copytree(v3_av1, root)

        def shifted(df, shift=shift):
            sel = df["episode_index"] == 1
            df.loc[sel, "timestamp"] = df.loc[sel, "timestamp"] + np.float32(shift / 30)
            return df

        edit_parquet(v3_data(root, 0), shifted)
        out = tmp_path / f"out{shift}.h5"
        if ok:
            _convert(root, out)
            with open_lewm_h5(out) as h5:
                assert_frames_match_sources(h5)
        else:
            with pytest.raises(DirtyDataError, match="episode 1") as err:
                _convert(root, out)
            assert err.value.issues[0].kind == "timestamp_mismatch"
            assert not out.exists() and not out.with_name(out.name + ".tmp").exists()


def test_report_json_and_dry_run(v3_av1, tmp_path):
    """The report lists plan, episodes and speed; a dry run writes the plan and no HDF5."""
    out = tmp_path / "out.h5"
    _convert(v3_av1, out, dry_run=True)
    rep = json.loads((tmp_path / "out.report.json").read_text())
    assert rep["status"] == "dry-run" and not out.exists()
    assert rep["plan"]["frames"] == sum(LENGTHS) and rep["plan"]["peak_memory_mb"] > 0
    _convert(v3_av1, out)
    rep = json.loads((tmp_path / "out.report.json").read_text())
    assert rep["status"] == "ok" and rep["episodes_written"] == list(range(len(LENGTHS)))
    assert rep["frames_written"] == sum(LENGTHS) and rep["frames_per_s"] > 0
    assert rep["max_timestamp_error_s"] < 0.5 / 30
    with pytest.raises(FileExistsError):
        _convert(v3_av1, out)
    _convert(v3_av1, out, overwrite=True)
