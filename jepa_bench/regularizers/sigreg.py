"""SIGReg (LeWorldModel): push embeddings towards an isotropic standard Gaussian.

Each call draws M random unit directions, projects the embeddings of every time step onto them and
runs the Epps-Pulley test of each 1-D projection against N(0, 1): the squared distance between the
empirical characteristic function (ECF) and exp(-t^2/2) on t = linspace(0, 3, 17), integrated with
trapezoid weights times exp(-t^2/2) and multiplied by the batch size. The loss is the mean over
time steps and directions.

Distributed training: the statistic depends on the batch only through the per-direction sums of
cos(x t) and sin(x t) and the sample count. Those sums are computed locally, summed across ranks by
``reduce`` (an autograd-aware all-reduce when ``torch.distributed`` is initialised) and only then
turned into the statistic with the GLOBAL batch size, so every rank computes the same loss as one
process would on the whole batch. The all-reduce's backward sums the gradient across ranks, so each
rank's gradient is world_size times its share and DDP's gradient averaging yields the global-batch
gradient. Directions come from a generator seeded once; its state is broadcast from rank 0 on the
first distributed call, so all ranks draw identical directions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.base import Regularizer, Schedule
from jepa_bench.regularizers.ecf import ecf_batch_sums

Reduce = Callable[[Tensor], Tensor]


@dataclass
class ECFSums:
    """Local sums behind the empirical characteristic function of each projection."""

    cos: Tensor  # (T, M, K) sum over the batch of cos(x t)
    sin: Tensor  # (T, M, K) sum over the batch of sin(x t)
    count: Tensor  # () number of samples summed (the batch size)

    def __add__(self, other: ECFSums) -> ECFSums:
        return ECFSums(self.cos + other.cos, self.sin + other.sin, self.count + other.count)

    def pack(self) -> Tensor:
        """One flat buffer, so a single all-reduce moves all three quantities."""
        return torch.cat([self.cos.reshape(-1), self.sin.reshape(-1), self.count.reshape(1)])

    def unpack(self, flat: Tensor) -> ECFSums:
        """The inverse of ``pack`` for a buffer of the same layout."""
        n = self.cos.numel()
        return ECFSums(flat[:n].view_as(self.cos), flat[n : 2 * n].view_as(self.sin), flat[2 * n])


def knots_and_weights(knots: int = 17, t_max: float = 3.0) -> tuple[Tensor, Tensor, Tensor]:
    """Knots t (K,), integration weights (K,) and the target ECF phi(t) = exp(-t^2/2) (K,).

    Trapezoid weights are doubled (2*dt inside, dt at the ends) since the integrand is symmetric
    in t and only t >= 0 is evaluated; they are multiplied by the window exp(-t^2/2).
    """
    if knots < 2 or not t_max > 0:
        raise ValueError(f"need knots >= 2 and t_max > 0, got knots={knots}, t_max={t_max}")
    t = torch.linspace(0.0, t_max, knots, dtype=torch.float32)
    dt = t_max / (knots - 1)
    w = torch.full((knots,), 2 * dt, dtype=torch.float32)
    w[0] = w[-1] = dt
    phi = torch.exp(-t.square() / 2)
    return t, w * phi, phi


@functools.lru_cache(maxsize=16)
def _knots_on(knots: int, t_max: float, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    return tuple(v.to(device) for v in knots_and_weights(knots, t_max))  # type: ignore[return-value]


def block_sizes(dim: int, blocks: int) -> list[int]:
    """``dim`` dimensions cut into ``blocks`` contiguous blocks as evenly as possible, first first.

    The same cut as LeWM's per-group projector (``fuse="concat"``), so with one block per channel
    group each block is one group's share of the latent.
    """
    if not 1 <= blocks <= dim:
        raise ValueError(f"blocks must be between 1 and the latent size {dim}, got {blocks}")
    base, extra = divmod(dim, blocks)
    return [base + (1 if i < extra else 0) for i in range(blocks)]


def random_directions(
    dim: int, num: int, generator: torch.Generator | None = None, blocks: int = 1
) -> Tensor:
    """A ~ N(0, 1) of shape (dim, num) with unit-norm columns.

    With ``blocks`` > 1 direction j lies inside block j % blocks of the latent (``block_sizes``),
    so each block is tested on its own share of the directions: a block that is constant fails
    its share even when the other blocks carry all the spread of the batch.
    """
    a = torch.randn(dim, num, generator=generator, dtype=torch.float32)
    if blocks > 1:
        block_of_dim = torch.repeat_interleave(
            torch.arange(blocks), torch.tensor(block_sizes(dim, blocks))
        )
        a = a * (block_of_dim[:, None] == torch.arange(num)[None] % blocks)
    return a / a.norm(dim=0, keepdim=True)


def ecf_sums(z: Tensor, directions: Tensor, knots: int = 17, t_max: float = 3.0) -> ECFSums:
    """Sums over the batch of cos and sin of the projections. z: (T, B, D); directions: (D, M)."""
    if z.ndim != 3:
        raise ValueError(f"SIGReg expects z of shape (T, B, D), got {tuple(z.shape)}")
    if z.shape[-1] != directions.shape[0]:
        raise ValueError(f"z has D={z.shape[-1]} but directions are for D={directions.shape[0]}")
    x = z @ directions  # x: (T, B, M)
    cos_sum, sin_sum = ecf_batch_sums(x, t_max / (knots - 1), knots)  # (T, M, K) each
    count = torch.tensor(float(z.shape[1]), dtype=z.dtype, device=z.device)
    return ECFSums(cos_sum, sin_sum, count)


def epps_pulley(sums: ECFSums, weights: Tensor, phi: Tensor) -> Tensor:
    """Epps-Pulley statistic per time step and direction, (T, M), from (reduced) sums."""
    n = sums.count
    err = (sums.cos / n - phi).square() + (sums.sin / n).square()  # err: (T, M, K)
    return (err @ weights) * n


def default_reduce(flat: Tensor) -> Tensor:
    """Sum across ranks with an autograd-aware all-reduce; identity outside distributed runs."""
    if _world_size() > 1:
        import torch.distributed.nn.functional as dist_fn

        return dist_fn.all_reduce(flat)
    return flat


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def sigreg_statistic(
    z: Tensor,
    directions: Tensor,
    knots: int = 17,
    t_max: float = 3.0,
    reduce: Reduce | None = None,
) -> Tensor:
    """SIGReg of z (T, B, D) for the given directions (D, M); mean over T and M.

    Computed in float32 (float64 input stays float64), autocast off: bf16 input is upcast.
    """
    dtype = torch.promote_types(z.dtype, torch.float32)
    _, weights, phi = (v.to(dtype) for v in _knots_on(knots, float(t_max), z.device))
    with torch.autocast(device_type=z.device.type, enabled=False):
        sums = ecf_sums(z.to(dtype), directions.to(z.device, dtype), knots, t_max)
        if reduce is not None:
            sums = sums.unpack(reduce(sums.pack()))
        return epps_pulley(sums, weights, phi).mean()


class SIGReg(Regularizer):
    """SIGReg (LeWM): Epps-Pulley normality test of the embeddings on 1024 projections, w=0.09.

    Applied to the encoder embeddings ``lat.emb`` (B, T, D), one statistic per time step. ``seed``
    or ``generator`` fixes the directions; ``reduce`` overrides the cross-rank sum.

    ``temporal`` > 0 adds the same test on each window's embeddings minus their mean over time,
    weighted ``temporal`` times as much: what a window holds constant (a room's layout) cannot
    pass it, only what changes within the window (the agent) can.

    ``pool_time`` tests the embeddings of all B x T frames as one sample instead of one test per
    time step over B windows: a feature constant within each window then shows only B distinct
    values among B x T and fails the test, while one that moves within windows can pass it.

    ``blocks`` > 1 cuts the latent into that many contiguous blocks (``block_sizes``) and draws
    each direction inside one block, so every block must pass the test by itself. With LeWM's
    ``fuse="concat"`` and one block per channel group, the agent's share of the latent cannot
    leave the batch's spread to the room layout's share.
    """

    name = "sigreg"

    def __init__(
        self,
        weight: float | str | Schedule = 0.09,
        num_proj: int = 1024,
        knots: int = 17,
        t_max: float = 3.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        reduce: Reduce | None = None,
        sync_ranks: bool = True,
        temporal: float = 0.0,
        pool_time: bool = False,
        blocks: int = 1,
    ) -> None:
        super().__init__()
        if isinstance(blocks, bool) or int(blocks) != blocks or blocks < 1:
            raise ValueError(f"blocks must be an integer >= 1, got {blocks!r}")
        self.blocks = int(blocks)
        if pool_time not in (True, False, 0, 1):
            raise ValueError(f"pool_time must be true or false, got {pool_time!r}")
        self.pool_time = bool(pool_time)
        if int(num_proj) < 1:
            raise ValueError(f"num_proj must be >= 1, got {num_proj}")
        if not (isinstance(temporal, (int, float)) and math.isfinite(temporal) and temporal >= 0):
            raise ValueError(f"temporal must be a finite number >= 0, got {temporal!r}")
        self.temporal = float(temporal)
        knots_and_weights(int(knots), float(t_max))  # validates
        self.weight = Schedule.parse(weight)
        self.num_proj = int(num_proj)
        self.knots = int(knots)
        self.t_max = float(t_max)
        if generator is None:
            # Without a seed, take one from torch's global RNG: deterministic given the run seed.
            seed = int(torch.randint(0, 2**62, (1,))) if seed is None else int(seed)
            generator = torch.Generator().manual_seed(seed)
        self.seed = seed
        self.generator = generator
        self.reduce = reduce
        self.sync_ranks = sync_ranks
        self._synced = False

    def directions(self, dim: int) -> Tensor:
        """Fresh unit directions (dim, num_proj) from the regulariser's generator."""
        return random_directions(dim, self.num_proj, self.generator, self.blocks)

    def statistic(self, z: Tensor) -> Tensor:
        """Unweighted SIGReg of z (T, B, D)."""
        if _world_size() > 1:
            self._sync_generator(z.device)
        reduce = self.reduce if self.reduce is not None else default_reduce
        return sigreg_statistic(z, self.directions(z.shape[-1]), self.knots, self.t_max, reduce)

    def terms(self, lat: TrainLatents, progress: float) -> dict[str, Tensor]:
        if lat.emb.ndim != 3:
            raise ValueError(f"SIGReg expects emb of shape (B, T, D), got {tuple(lat.emb.shape)}")
        z = lat.emb.transpose(0, 1)  # z: (T, B, D)
        w = self.weight(progress)
        pooled = z.reshape(1, -1, z.shape[-1]) if self.pool_time else z  # (1, T*B, D)
        out = {"epps_pulley": w * self.statistic(pooled)}
        if self.temporal and z.shape[0] > 1:
            centred = z - z.mean(0, keepdim=True)  # (T, B, D): within-window changes only
            out["epps_pulley_temporal"] = w * self.temporal * self.statistic(centred)
        return out

    def _sync_generator(self, device: torch.device) -> None:
        """Broadcast the generator state from rank 0 once, so every rank draws the same A."""
        if self._synced or not self.sync_ranks:
            return
        state = self.generator.get_state().to(device)
        torch.distributed.broadcast(state, src=0)
        self.generator.set_state(state.cpu())
        self._synced = True

    def get_extra_state(self) -> dict[str, object]:
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: dict[str, object]) -> None:
        self.generator.set_state(state["generator"])  # type: ignore[arg-type]

    def config(self) -> dict[str, object]:
        out: dict[str, object] = {
            "weight": self.weight.to_config(),
            "num_proj": self.num_proj,
            "knots": self.knots,
            "t_max": self.t_max,
            "seed": self.seed,
            "temporal": self.temporal,
            "input": "emb",
        }
        if self.pool_time:  # only when set: the records made before it keep their config
            out["pool_time"] = True
        if self.blocks > 1:  # likewise
            out["blocks"] = self.blocks
        return out
