"""LeWM's image encoder over channel groups: one ViT per group, features summed.

With ``branches=True`` each channel group of the task (``TaskSpec.channel_groups``; wall_door:
agent, wall) gets its own adapter and ViT, and their pooled features are summed before the
projector. A group the task marks static (``TaskSpec.static_groups``; the wall) is encoded from a
window's first frame only and broadcast over its frames. A task with one group (camera frames)
gets exactly the single-ViT encoder.

Why: with one ViT over both channels, the encoder of the CPU size kept the room layout (constant
within a window, varied across the batch: it satisfies SIGReg and is predicted for free) and
lost the agent: a ridge probe of the agent's location on trained encoder latents was worse than
on the untrained twin's (docs/models.md). The agent's branch sees only the agent's channel, so
the layout cannot stand in for it there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.lewm.adapters import ImageAdapter
from jepa_bench.models.lewm.vit import ViTEncoder


def channel_groups(spec: TaskSpec, branches: bool) -> dict[str, list[int]]:
    """The groups to encode apart: the task's own with ``branches``, else one of every channel."""
    if branches and spec.channel_groups:
        return {name: list(ch) for name, ch in spec.channel_groups.items()}
    return {"all": list(range(spec.obs_shape[0]))}


class BranchEncoder(nn.Module):
    """Frames (B, T, C, H, W) in [0, 1] -> summed pooled ViT features (B, T, out_dim)."""

    def __init__(
        self,
        spec: TaskSpec,
        groups: dict[str, list[int]],
        image_size: int,
        norm_mean: Sequence[float] | None,
        norm_std: Sequence[float] | None,
        make_vit: Callable[[int], ViTEncoder],
    ) -> None:
        super().__init__()
        self.groups = groups
        self.static = [g for g in spec.static_groups if g in groups]

        def pick(stats: Sequence[float] | None, ch: list[int]) -> list[float] | None:
            return None if stats is None else [float(stats[c]) for c in ch]

        self.adapters = nn.ModuleDict(
            {
                g: ImageAdapter(len(ch), image_size, pick(norm_mean, ch), pick(norm_std, ch))
                for g, ch in groups.items()
            }
        )
        vits = {g: make_vit(len(ch)) for g, ch in groups.items()}
        self.vits = nn.ModuleDict(vits)
        self.out_dim: int = next(iter(vits.values())).out_dim  # the same for every group

    def forward(self, obs: Tensor) -> Tensor:
        # obs: (B, T, C, H, W) -> (B, T, out_dim)
        b, t = obs.shape[:2]
        total: Tensor | None = None
        for g, ch in self.groups.items():
            x = obs[:, :, ch]  # (B, T, c, H, W)
            if g in self.static:  # constant over the window: its first frame stands for all
                x = x[:, :1]
            n = x.shape[1]
            f = self.vits[g](self.adapters[g](x.flatten(0, 1))).view(b, n, -1)  # (B, n, out)
            f = f.expand(b, t, f.shape[-1]) if n != t else f
            total = f if total is None else total + f
        assert total is not None  # groups is never empty
        return total
