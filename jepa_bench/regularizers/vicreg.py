"""VICReg (Bardes, Ponce & LeCun 2021) as a JEPA collapse regulariser.

invariance = MSE(pred, target); variance = mean_d relu(gamma - sqrt(var_d + eps));
covariance = sum of squared off-diagonal covariance entries / D. Variance and covariance are
computed on the predictions flattened over batch and time (B*T, D), as in the wall-door ConvNeXt
reference. Coefficients 25 / 25 / 1 as in the paper; each may follow a stage-wise ``Schedule``
(``vicreg:invariance=25@0;50@0.8`` doubles the invariance weight for the last 20% of training).
"""

from __future__ import annotations

import torch
from torch import Tensor

from jepa_bench.distributed import all_gather_cat
from jepa_bench.models.protocol import TrainLatents
from jepa_bench.regularizers.base import Regularizer, Schedule, prediction_mse


def _check_2d(z: Tensor, what: str) -> None:
    if z.ndim != 2 or z.shape[0] < 1:
        raise ValueError(f"{what} expects z of shape (N, D) with N >= 1, got {tuple(z.shape)}")


def variance_term(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """Hinge on each dimension's std, mean over dimensions. z: (N, D).

    Unbiased variance; a single sample (N = 1) counts as zero variance.
    """
    _check_2d(z, "variance_term")
    with torch.autocast(device_type=z.device.type, enabled=False):
        z = z.to(torch.promote_types(z.dtype, torch.float32))
        var = z.var(dim=0, correction=1 if z.shape[0] > 1 else 0)  # var: (D,)
        std = torch.sqrt(var + eps)
        return torch.mean(torch.relu(gamma - std))


def covariance_term(z: Tensor) -> Tensor:
    """Sum of squared off-diagonal covariance entries over D. z: (N, D)."""
    _check_2d(z, "covariance_term")
    with torch.autocast(device_type=z.device.type, enabled=False):
        z = z.to(torch.promote_types(z.dtype, torch.float32))
        n, d = z.shape
        zc = z - z.mean(dim=0)  # zc: (N, D)
        cov = (zc.T @ zc) / max(n - 1, 1)  # cov: (D, D)
        off = cov - torch.diag(torch.diagonal(cov))
        return off.pow(2).sum() / d


class VICReg(Regularizer):
    """VICReg: invariance / variance / covariance on predictions, coefficients 25 / 25 / 1.

    ``weight`` scales all three terms; ``invariance``, ``variance`` and ``covariance`` are the
    per-term weights (numbers or stage-wise schedules ``value@start;value@start``).
    """

    name = "vicreg"
    provides_prediction = True

    def __init__(
        self,
        weight: float | str | Schedule = 1.0,
        invariance: float | str | Schedule = 25.0,
        variance: float | str | Schedule = 25.0,
        covariance: float | str | Schedule = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-4,
        on: str = "both",
    ) -> None:
        super().__init__()
        if on not in ("both", "pred", "emb"):
            raise ValueError(f"vicreg 'on' must be both, pred or emb, got {on!r}")
        self.on = on
        if not eps > 0:
            raise ValueError(f"eps must be > 0 (it keeps sqrt differentiable at 0), got {eps}")
        self.weight = Schedule.parse(weight)
        self.w_inv = Schedule.parse(invariance)
        self.w_var = Schedule.parse(variance)
        self.w_cov = Schedule.parse(covariance)
        self.gamma = float(gamma)
        self.eps = float(eps)

    def terms(self, lat: TrainLatents, progress: float) -> dict[str, Tensor]:
        # Variance and covariance on each regularised branch, flattened to (B*T, D) and summed
        # over branches ("both": predictions and encoder embeddings, as in VICReg; "pred": only
        # predictions, as in the wall-door ConvNeXt reference, which lets the predictor supply
        # the variance from the actions while the encoder collapses). Under DDP the statistics
        # cover the global batch (see jepa_bench.distributed).
        branches = {"both": (lat.pred, lat.emb), "pred": (lat.pred,), "emb": (lat.emb,)}[self.on]
        var = cov = lat.pred.new_zeros(())
        for z in branches:
            z = all_gather_cat(z.reshape(-1, z.shape[-1]))  # (B*T, D)
            var = var + variance_term(z, self.gamma, self.eps)
            cov = cov + covariance_term(z)
        w = self.weight(progress)
        return {
            "invariance": w * self.w_inv(progress) * prediction_mse(lat),
            "variance": w * self.w_var(progress) * var,
            "covariance": w * self.w_cov(progress) * cov,
        }

    def config(self) -> dict[str, object]:
        return {
            "weight": self.weight.to_config(),
            "invariance": self.w_inv.to_config(),
            "variance": self.w_var.to_config(),
            "covariance": self.w_cov.to_config(),
            "gamma": self.gamma,
            "eps": self.eps,
            "on": self.on,
        }
