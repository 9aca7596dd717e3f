"""DDP on CPU (gloo, 2 processes) trains exactly like one process on the same global batch."""

import json

import pytest
import torch
import torch.multiprocessing as mp

from jepa_bench.train.checkpoint import MODEL_FILE
from tests.dist_worker import rank_main, train_once

pytestmark = pytest.mark.slow  # trains or launches processes; `-m "not slow"` skips

CASES = [
    ("convnext_mlp_smoke", "vicreg"),  # global variance / covariance
    ("lewm_smoke", "sigreg"),  # global characteristic functions + BatchNorm in the projectors
]


def _log(run_dir):
    return [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model_name,reg", CASES)
def test_two_process_run_equals_one_process_run(tmp_path, model_name, reg):
    """Every logged loss term and the final weights agree between 1 and 2 processes.

    Tolerance: 1e-3 relative. The remaining differences are float32 reduction order (~1e-5);
    a regulariser or BatchNorm using per-rank statistics is off by 1e-3 or more.
    """
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    single, double = tmp_path / "single", tmp_path / "double"
    torch.set_num_threads(1)
    train_once(model_name, reg, str(single))
    mp.spawn(
        rank_main,
        args=(2, str(tmp_path / "init"), model_name, reg, str(double)),
        nprocs=2,
        join=True,
    )
    a, b = _log(single), _log(double)
    assert len(a) == len(b) == 2
    for row_a, row_b in zip(a, b):
        for key in row_a:
            if key in ("elapsed_s", "samples_per_s"):
                continue
            assert row_b[key] == pytest.approx(row_a[key], rel=1e-3, abs=1e-6), key
    from safetensors.torch import load_file

    wa, wb = load_file(str(single / MODEL_FILE)), load_file(str(double / MODEL_FILE))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.allclose(wa[key], wb[key], rtol=1e-3, atol=1e-4), key
