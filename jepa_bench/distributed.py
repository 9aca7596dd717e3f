"""Distributed helpers: process group set-up, global-batch collectives with gradients, BatchNorm.

Convention: a regulariser's batch statistics are computed over the GLOBAL batch through
differentiable collectives, so every rank computes the same global loss value. Autograd's
collective backward sums the gradient over ranks (a factor of the world size) and DDP then averages
gradients over ranks (dividing by it), so the parameter gradients equal the single-process gradient
of the same global batch exactly. Outside a process group every helper is the identity.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Protocol, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env(device_type: str) -> bool:
    """Join the process group torchrun describes in the environment; False when not launched so."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ or dist.is_initialized():
        return dist.is_initialized()
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    if device_type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return True


def all_gather_cat(x: Tensor, dim: int = 0) -> Tensor:
    """Concatenate ``x`` from every rank along ``dim`` (in rank order), with gradients."""
    if not is_distributed():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=dim)


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum ``x`` over ranks, with gradients."""
    if not is_distributed():
        return x
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(x.contiguous(), op=dist.ReduceOp.SUM)


def broadcast_object(obj: object) -> object:
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics cover the global batch on every backend (CPU too).

    ``torch.nn.SyncBatchNorm`` needs GPUs; this computes mean and variance from all-reduced sums
    (with gradients), so a 2-process CPU run normalises exactly like a 1-process run.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        # x: (N, C) local rows
        n = all_reduce_sum(torch.tensor([float(x.shape[0])], device=x.device))
        mean = all_reduce_sum(x.sum(0)) / n  # (C,)
        # two passes: E[x^2] - mean^2 cancels catastrophically when |mean| >> std
        var = all_reduce_sum(((x - mean) ** 2).sum(0)) / n
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        rmean, rvar, count = self.running_mean, self.running_var, self.num_batches_tracked
        if rmean is not None and rvar is not None and count is not None:  # track_running_stats
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp_min(1)
                m = self.momentum if self.momentum is not None else 0.1
                rmean.mul_(1 - m).add_(m * mean.detach())
                rvar.mul_(1 - m).add_(m * unbiased.detach())
                count.add_(1)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d in ``module`` by a GlobalBatchNorm1d with the same state."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm1d) and not isinstance(child, GlobalBatchNorm1d):
            new = GlobalBatchNorm1d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            new.load_state_dict(child.state_dict())
            ref = next(child.parameters(), child.running_mean)
            if ref is not None:  # else it holds no tensor to move
                new.to(ref.device)
            setattr(module, name, new)
        else:
            convert_batchnorm(child)
    return module


class _TrainLatents(Protocol):
    pred: Tensor
    target: Tensor
    emb: Tensor


class _HasTrainLatents(Protocol):
    """The part of the model protocol (``jepa_bench.models.protocol``) a train step needs."""

    def train_latents(self, obs: Tensor, actions: Tensor) -> _TrainLatents: ...


class TrainStep(nn.Module):
    """Wraps a model so DDP sees ``train_latents`` as its forward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # nn.Module.__getattr__ types every attribute as Tensor | Module, hiding the method
        lat = cast(_HasTrainLatents, self.model).train_latents(obs, actions)
        return lat.pred, lat.target, lat.emb
