"""Action encoder: per-step actions (B, K, A) -> action embeddings (B, K, dim).

Conv1d(kernel 1, A -> smoothed) -> Linear(smoothed -> scale * dim) -> SiLU -> Linear(-> dim).
A is the task's ``action_dim``, which already concatenates the actions of skipped frames when a
task uses frameskip (LeWM: 6 joints x frameskip 5 = 30).
"""

from __future__ import annotations

from torch import Tensor, nn


class ActionEncoder(nn.Module):
    """Embed each step's action vector independently (kernel-1 convolution over time)."""

    def __init__(self, action_dim: int, dim: int, smoothed: int = 10, mlp_scale: int = 4) -> None:
        super().__init__()
        if action_dim < 1:
            raise ValueError(f"action_dim must be >= 1, got {action_dim}")
        self.action_dim = action_dim
        self.patch = nn.Conv1d(action_dim, smoothed, kernel_size=1)
        self.embed = nn.Sequential(
            nn.Linear(smoothed, mlp_scale * dim), nn.SiLU(), nn.Linear(mlp_scale * dim, dim)
        )

    def forward(self, a: Tensor) -> Tensor:
        # a: (B, K, A) -> (B, K, dim)
        h = self.patch(a.transpose(1, 2)).transpose(1, 2)  # (B, K, smoothed)
        return self.embed(h)
