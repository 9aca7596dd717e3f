"""arm_sim generation when the AV1 encoder fails: bounded retries, then a named error."""

from __future__ import annotations

import errno
import signal
from pathlib import Path

import av
import pytest

from jepa_bench.convert import lerobot_writer
from jepa_bench.convert.layout import open_lewm_h5
from jepa_bench.convert.report import ConversionInterrupted
from jepa_bench.data.robot.arm_sim import dataset as ds

TINY = dict(episodes=2, image_size=32, duration_scale=0.35)


def failing_encoder(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    """Make the first frame written by each of the first ``failures`` attempts fail the way
    SVT-AV1 did under load; return the files it failed on."""
    failed: list[str] = []
    real = lerobot_writer.VideoEncoder.write

    def write(self, frame, pts=None):
        if len(failed) < failures and self.n_frames == 0:
            failed.append(str(self.path))
            av.error.err_check(-errno.EINVAL, str(self.path))  # raises, as libsvtav1 did
        return real(self, frame, pts)

    monkeypatch.setattr(lerobot_writer.VideoEncoder, "write", write)
    monkeypatch.setattr(ds, "RETRY_DELAY_S", 0.0)
    return failed


def leftovers(root: Path) -> list[str]:
    folder = root / "arm_sim"
    names = [p.name for p in folder.iterdir()] if folder.exists() else []
    return [n for n in names if ".tmp-" in n or ".stale-" in n]


@pytest.mark.parametrize("failures", [1, ds.ENCODER_ATTEMPTS - 1])
def test_encoder_failures_are_retried(tmp_path: Path, monkeypatch, failures: int) -> None:
    """Fewer failures than attempts: each is reported with a warning, the data is still built."""
    failed = failing_encoder(monkeypatch, failures)
    with pytest.warns(RuntimeWarning, match="Invalid argument.*retrying") as caught:
        path, built = ds.ensure_sim_data(tmp_path, **TINY)
    assert built and len(failed) == failures and failed[0].endswith("file-000.mp4")
    assert len([w for w in caught if "retrying" in str(w.message)]) == failures
    with open_lewm_h5(path) as h5:
        assert h5.n_episodes == TINY["episodes"]
    assert leftovers(tmp_path) == []


def test_encoder_failing_every_time_is_a_named_error(tmp_path: Path, monkeypatch) -> None:
    """Failing every attempt: SimDataError says what failed and what to do; nothing is left."""
    failed = failing_encoder(monkeypatch, failures=100)
    with pytest.warns(RuntimeWarning), pytest.raises(ds.SimDataError) as err:
        ds.ensure_sim_data(tmp_path, **TINY)
    message = str(err.value)
    assert len(failed) == ds.ENCODER_ATTEMPTS
    assert (
        f"AV1 video encoder (libsvtav1 through PyAV) failed {ds.ENCODER_ATTEMPTS} times" in message
    )
    assert "Invalid argument" in message and "file-000.mp4" in message
    assert "run again when the machine is less busy" in message
    assert isinstance(err.value.__cause__, av.error.FFmpegError)
    assert leftovers(tmp_path) == [] and not any((tmp_path / "arm_sim").iterdir())


def test_interrupt_during_generation_leaves_no_folder(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C (or SIGTERM) while the data is generated removes the temporary folder."""

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(ds, "write_sim_lerobot", interrupted)
    with pytest.raises(ConversionInterrupted, match="SIGINT while generating the arm_sim dataset"):
        ds.ensure_sim_data(tmp_path, **TINY)
    assert not any((tmp_path / "arm_sim").iterdir())
