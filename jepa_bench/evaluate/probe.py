"""Latent extraction, the closed-form linear probe head and the probe metrics.

Latents are computed once per (split, mode) and kept on the CPU. Probe heads read every time step
(t = 0 included) of every window: an MLP (``jepa_bench.evaluate.mlp_probe``, the DL25SP course's
protocol) or a closed-form ridge regression (here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from jepa_bench.data.base import WindowSet, batch_on
from jepa_bench.models.protocol import WorldModel

LATENT_BATCH = 64  # windows per forward pass when computing latents
RIDGE_ALPHA = 1e-6  # ridge strength, relative to the mean feature variance


@dataclass
class SplitLatents:
    """Latents and targets of the (first ``len(z)``) windows of one split."""

    z: Tensor  # (N, T, D) float32, CPU
    targets: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N, T, K)

    def finite(self) -> bool:
        return bool(torch.isfinite(self.z).all())

    def nonfinite_count(self) -> int:
        return int((~torch.isfinite(self.z)).sum())

    def stacked_targets(self, names: tuple[str, ...], where: str) -> np.ndarray:
        """The named targets concatenated on the last axis: (N, T, sum K)."""
        missing = [n for n in names if n not in self.targets]
        if missing:
            raise ValueError(
                f"{where}: target(s) {missing} missing; the split provides {sorted(self.targets)}"
            )
        y = np.concatenate([self.targets[n] for n in names], axis=-1).astype(np.float32)
        if y.ndim != 3 or y.shape[:2] != tuple(self.z.shape[:2]):
            raise ValueError(
                f"{where}: targets {list(names)} have shape {y.shape}; the latents are "
                f"{tuple(self.z.shape)}, so (N, T, K) with N={self.z.shape[0]}, "
                f"T={self.z.shape[1]} was expected"
            )
        if not np.isfinite(y).all():
            raise ValueError(f"{where}: targets {list(names)} contain NaN or inf")
        return y


class LatentCache:
    """Computes a model's latents per split and mode, once, with progress bars."""

    def __init__(self, model: nn.Module, device: torch.device, progress: bool = True) -> None:
        self.model = cast(WorldModel, model)  # the evaluator checked the protocol
        self.device = device
        self.progress = progress
        self._cache: dict[tuple[int, str, int | None], tuple[WindowSet, SplitLatents]] = {}

    def get(
        self,
        windows: WindowSet,
        mode: Literal["rollout", "encode"],
        name: str,
        limit: int | None = None,
    ) -> SplitLatents:
        """Latents of ``windows`` (its first ``limit`` windows when given) in ``mode``."""
        whole = self._cache.get((id(windows), mode, None))
        if limit is not None and whole is not None:  # reuse the whole split's latents
            full = whole[1]
            return SplitLatents(full.z[:limit], {k: v[:limit] for k, v in full.targets.items()})
        key = (id(windows), mode, limit)
        if key not in self._cache:  # the WindowSet is kept so its id stays unique
            self._cache[key] = (windows, self._compute(windows, mode, name, limit))
        return self._cache[key][1]

    @torch.no_grad()
    def _compute(self, windows: WindowSet, mode: str, name: str, limit: int | None) -> SplitLatents:
        n = len(windows) if limit is None else min(limit, len(windows))
        if n == 0:
            raise ValueError(f"split {name!r} has no windows")
        zs: list[Tensor] = []
        targets: dict[str, list[np.ndarray]] = {}
        bar = tqdm(
            range(0, n, LATENT_BATCH),
            desc=f"latents {name} ({mode})",
            disable=not self.progress,
            leave=False,
        )
        for lo in bar:
            batch = batch_on(windows, np.arange(lo, min(lo + LATENT_BATCH, n)), self.device)
            b, t = batch.obs.shape[:2]
            obs = batch.obs[:, :1] if mode == "rollout" else batch.obs  # rollout sees t=0 only
            act = batch.actions
            # obs: (B, T or 1, C, H, W); act: (B, T-1, A)
            if mode == "rollout":
                z = self.model.rollout(obs[:, 0], act)
            elif mode == "encode":
                z = self.model.encode(obs)
            else:
                raise ValueError(f"unknown latent mode {mode!r} (expected 'rollout' or 'encode')")
            d = getattr(self.model, "repr_dim", None)
            if z.ndim != 3 or z.shape[:2] != (b, t) or (d is not None and z.shape[2] != d):
                raise ValueError(
                    f"model.{mode} returned shape {tuple(z.shape)} on split {name!r}; "
                    f"expected ({b}, {t}, {d})"
                )
            zs.append(z.detach().float().cpu())  # z: (B, T, D)
            for key, value in batch.targets.items():
                targets.setdefault(key, []).append(value.float().cpu().numpy())
        return SplitLatents(
            z=torch.cat(zs), targets={k: np.concatenate(v) for k, v in targets.items()}
        )


class LinearHead(nn.Module):
    """y = z @ W + b with fixed weights from a closed-form fit."""

    w: Tensor
    b: Tensor

    def __init__(self, w: Tensor, b: Tensor) -> None:
        super().__init__()
        self.register_buffer("w", w)  # (D, K)
        self.register_buffer("b", b)  # (K,)

    def forward(self, z: Tensor) -> Tensor:
        return z @ self.w + self.b


def fit_linear_probe(z: Tensor, y: Tensor, alpha: float = RIDGE_ALPHA) -> LinearHead:
    """Ridge regression of ``y`` (N, T, K) on ``z`` (N, T, D) over all time steps, in float64.

    The ridge strength is ``alpha`` times the mean feature variance, so it does not depend on the
    latents' scale.
    """
    x = z.reshape(-1, z.shape[-1]).double()  # (N*T, D)
    t = y.reshape(-1, y.shape[-1]).double()  # (N*T, K)
    x_mean, t_mean = x.mean(0), t.mean(0)
    xc, tc = x - x_mean, t - t_mean
    gram = xc.T @ xc  # (D, D)
    scale = float(torch.diagonal(gram).mean()) if gram.numel() else 0.0
    reg = alpha * max(scale, 1e-12)
    w = torch.linalg.solve(gram + reg * torch.eye(gram.shape[0], dtype=gram.dtype), xc.T @ tc)
    b = t_mean - x_mean @ w
    return LinearHead(w.float(), b.float())


@torch.no_grad()
def predict(head: nn.Module, z: Tensor, device: torch.device, batch: int = 4096) -> Tensor:
    """Apply ``head`` to (N, T, D) latents in chunks; returns (N, T, K) on the CPU."""
    head = head.to(device)
    outs = [head(z[lo : lo + batch].to(device)).float().cpu() for lo in range(0, len(z), batch)]
    return torch.cat(outs)


def mse_px2(pred: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """Per-coordinate MSE in target units: value, per coordinate and per time step.

    ``pred``, ``target``: (N, T, K) in original units (pixels for locations).
    """
    err = (pred.astype(np.float64) - target.astype(np.float64)) ** 2  # (N, T, K)
    per_coord = err.mean(axis=(0, 1))
    return {
        "value": float(per_coord.mean()),
        "per_coord": per_coord.tolist(),
        "per_step": err.mean(axis=(0, 2)).tolist(),
    }


def r2_and_mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """R2 (mean over coordinates, variance about the split's own mean) and MSE, over N and T."""
    p = pred.reshape(-1, pred.shape[-1]).astype(np.float64)
    t = target.reshape(-1, target.shape[-1]).astype(np.float64)
    sse = ((p - t) ** 2).sum(0)
    sst = ((t - t.mean(0)) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)
    return float(np.mean(r2)), float(((p - t) ** 2).mean())
