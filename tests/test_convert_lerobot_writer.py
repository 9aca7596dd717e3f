"""The LeRobot v2.1 / v3.0 dataset writer: the files and metadata real LeRobot datasets have."""

from __future__ import annotations

import json

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from lerobot_fixtures import (
    CAMERAS,
    FAST,
    count_frames,
    decode_identity,
    identity_frame,
    make_episode,
    v2_video,
    v3_data,
    v3_episodes_meta,
    v3_video,
)

from jepa_bench.convert.lerobot_meta import read_source
from jepa_bench.convert.lerobot_writer import write_lerobot_dataset

LENGTHS = (6, 9, 7)


def _write(root, version, **kw):
    eps = [make_episode(i, n, cameras=2, done=True) for i, n in enumerate(LENGTHS)]
    return write_lerobot_dataset(
        root, eps, fps=30, version=version, codec="libx264", encoder_options=FAST["libx264"], **kw
    )


def test_v3_layout_and_metadata(tmp_path):
    """v3.0: shared files per episodes_per_file, contiguous index and video time ranges."""
    names = {"action": list("abcdef")}
    root = _write(tmp_path / "ds", "v3.0", episodes_per_file=2, feature_names=names)
    info = json.loads((root / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_frames"] == sum(LENGTHS)
    assert info["features"]["action"] == {"dtype": "float32", "shape": [6], "names": list("abcdef")}
    assert info["features"][CAMERAS[0]]["shape"] == [48, 64, 3]
    assert info["features"][CAMERAS[0]]["info"]["video.codec"] == "h264"
    meta = pq.read_table(v3_episodes_meta(root)).to_pandas()
    assert meta["length"].tolist() == list(LENGTHS)
    assert meta["dataset_from_index"].tolist() == [0, 6, 15]
    assert meta["data/file_index"].tolist() == [0, 0, 1]
    key = f"videos/{CAMERAS[1]}/"
    assert meta[key + "from_timestamp"].tolist() == pytest.approx([0, 6 / 30, 0])
    assert meta[key + "to_timestamp"].tolist() == pytest.approx([6 / 30, 15 / 30, 7 / 30])
    assert count_frames(v3_video(root, CAMERAS[1], 0)) == 15
    assert count_frames(v3_video(root, CAMERAS[1], 1)) == 7
    data = pq.read_table(v3_data(root, 1))
    assert data.column("index").to_pylist() == list(range(15, 22))
    assert data.schema.field("timestamp").type == "float"
    stats = json.loads((root / "meta" / "stats.json").read_text())
    assert stats["action"]["count"] == [sum(LENGTHS)]
    assert np.array(stats[CAMERAS[0]]["mean"]).shape == (3, 1, 1)
    tasks = pq.read_table(root / "meta" / "tasks.parquet")  # pandas reads "task" as the index
    assert sorted(tasks.column("task").to_pylist()) == ["pick the brick", "place the brick"]
    assert sorted(tasks.column("task_index").to_pylist()) == [0, 1]


def test_v2_layout_and_round_trip(tmp_path):
    """v2.1: one parquet and one mp4 per episode; the reader sees the same episodes."""
    root = _write(tmp_path / "ds", "v2.1")
    src = read_source(root)
    assert src.layout == "v2.1" and [e.length for e in src.episodes] == list(LENGTHS)
    assert src.camera_keys == list(CAMERAS)
    for e in src.episodes:
        assert e.data_path.is_file() and e.videos[CAMERAS[0]].path == v2_video(root, e.index)
        assert count_frames(v2_video(root, e.index)) == e.length
    lines = (root / "meta" / "episodes_stats.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[1])["stats"]["action"]["count"] == [9]


def test_frames_from_a_generator(tmp_path):
    """Frames may come from any iterable, so a long episode never sits in memory."""
    gen = (identity_frame(0, f) for f in range(5))
    ep = {CAMERAS[0]: gen, "action": np.zeros((5, 2)), "observation.state": np.zeros((5, 2))}
    root = write_lerobot_dataset(
        tmp_path / "ds", [ep], camera_keys=[CAMERAS[0]], codec="libx264",
        encoder_options=FAST["libx264"],
    )  # fmt: skip
    src = read_source(root)
    assert src.episodes[0].length == 5
    with av.open(str(src.episodes[0].videos[CAMERAS[0]].path)) as c:
        got = [decode_identity(f.to_ndarray(format="rgb24"))[1] for f in c.decode(video=0)]
    assert got == list(range(5))


def test_writer_rejects_bad_input(tmp_path):
    """Frame/row count mismatches, bad frames, unknown versions and reuse are refused."""
    ep = make_episode(0, 4)
    ep["action"] = ep["action"][:3]
    with pytest.raises(ValueError, match="one length"):
        write_lerobot_dataset(tmp_path / "a", [ep], codec="libx264")
    ep = make_episode(0, 4)
    ep[CAMERAS[0]] = ep[CAMERAS[0]][:3]
    with pytest.raises(ValueError, match="3 frames for 4 rows"):
        write_lerobot_dataset(tmp_path / "b", [ep], codec="libx264")
    ep = make_episode(0, 4)
    ep[CAMERAS[0]] = ep[CAMERAS[0]][..., :1]
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        write_lerobot_dataset(tmp_path / "c", [ep], codec="libx264")
    with pytest.raises(ValueError, match="version"):
        write_lerobot_dataset(tmp_path / "d", [make_episode(0, 4)], version="v2.0")
    _write(tmp_path / "e", "v3.0")
    with pytest.raises(FileExistsError):
        _write(tmp_path / "e", "v3.0")
