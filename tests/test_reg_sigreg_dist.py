"""SIGReg under torch.distributed: two CPU (gloo) ranks each holding half of the batch."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.sigreg import SIGReg

pytestmark = pytest.mark.slow  # trains or launches processes; `-m "not slow"` skips

WORLD = 2


def _batch() -> torch.Tensor:
    return torch.randn(24, 3, 8, generator=torch.Generator().manual_seed(0)) * 1.5 + 0.2


def _worker(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        emb = _batch().chunk(WORLD)[rank].clone().requires_grad_()  # (B/2, T, D)
        # Different seeds on purpose: rank 0's generator state must be broadcast to rank 1.
        reg = SIGReg(weight=1.0, num_proj=64, seed=rank + 1)
        lat = TrainLatents(torch.zeros(1), torch.zeros(1), emb)
        values = [reg.terms(lat, 0.0)["epps_pulley"] for _ in range(2)]
        (grad,) = torch.autograd.grad(values[0], emb)
        torch.save({"values": [float(v.detach()) for v in values], "grad": grad}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
@pytest.mark.skipif(sys.platform == "win32", reason="file store + gloo spawn test is POSIX-only")
def test_two_ranks_match_one_process(tmp_path) -> None:
    """Both ranks get the single-process whole-batch value (same directions though seeded
    differently); each rank's gradient is world_size times the whole-batch gradient of its
    samples, which DDP's gradient averaging turns into the exact global gradient."""
    out = str(tmp_path / "result")
    mp.spawn(_worker, args=(str(tmp_path / "store"), out), nprocs=WORLD, join=True)
    results = [torch.load(f"{out}.{r}") for r in range(WORLD)]

    emb = _batch().requires_grad_()
    reg = SIGReg(weight=1.0, num_proj=64, seed=1)  # rank 0's seed
    lat = TrainLatents(torch.zeros(1), torch.zeros(1), emb)
    expected = [reg.terms(lat, 0.0)["epps_pulley"] for _ in range(2)]
    (grad,) = torch.autograd.grad(expected[0], emb)

    for rank, res in enumerate(results):
        assert res["values"] == pytest.approx([float(v.detach()) for v in expected], rel=1e-5)
        torch.testing.assert_close(
            res["grad"], WORLD * grad.chunk(WORLD)[rank], rtol=1e-4, atol=1e-6
        )
