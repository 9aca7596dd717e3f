"""MLP projector with BatchNorm1d: Linear -> BatchNorm1d -> GELU -> Linear.

LeWM uses one after the encoder's CLS token and one after the predictor (192 -> 2048 -> 192).
BatchNorm normalises over every vector of the call, so inputs (..., D) are flattened first.
"""

from __future__ import annotations

from torch import Tensor, nn


class Projector(nn.Module):
    """(..., in_dim) -> (..., out_dim) through a BatchNorm'd hidden layer."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, out_dim),
        )

    def zero_output(self) -> None:
        """Zero the last layer, so the projector starts by outputting zeros (and still learns)."""
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: Tensor) -> Tensor:
        batch_shape = x.shape[:-1]
        y = self.net(x.reshape(-1, x.shape[-1]))  # (N, out_dim)
        return y.view(*batch_shape, y.shape[-1])
