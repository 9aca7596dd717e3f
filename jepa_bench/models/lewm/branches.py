"""LeWM's image encoder over channel groups: one ViT per group.

With ``branches=True`` each channel group of the task (``TaskSpec.channel_groups``; wall_door:
agent, wall) gets its own adapter and ViT, and their pooled features are summed before the
projector. A group the task marks static (``TaskSpec.static_groups``; the wall) is encoded from a
window's first frame only and broadcast over its frames. A task with one group (camera frames)
gets exactly the single-ViT encoder.

``fuse`` says how the groups meet. "sum" adds their pooled features before LeWM's one projector.
"concat" gives each group its own projector onto its own share of the latent's dimensions
(``GroupProjector``) and concatenates them, so a regulariser on the whole latent (SIGReg wants
every direction to be a standard normal) holds each group's share to it on its own. "sum" is
the default: on wall_door "concat" changed which seeds see, not how many (docs/models.md).

Why: with one ViT over both channels, the encoder of the CPU size kept the room layout (constant
within a window, varied across the batch: it satisfies SIGReg and is predicted for free) and
lost the agent: a ridge probe of the agent's location on trained encoder latents was worse than
on the untrained twin's (docs/models.md). The agent's branch sees only the agent's channel, so
the layout cannot stand in for it there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.lewm.adapters import ImageAdapter
from jepa_bench.models.lewm.projector import Projector
from jepa_bench.models.lewm.vit import ViTEncoder


def channel_groups(spec: TaskSpec, branches: bool) -> dict[str, list[int]]:
    """The groups to encode apart: the task's own with ``branches``, else one of every channel."""
    if branches and spec.channel_groups:
        return {name: list(ch) for name, ch in spec.channel_groups.items()}
    return {"all": list(range(spec.obs_shape[0]))}


def split_dims(total: int, names: Sequence[str]) -> dict[str, int]:
    """``total`` latent dimensions shared out over ``names`` as evenly as possible, first first."""
    if total < len(names):
        raise ValueError(f"embed_dim {total} is smaller than the {len(names)} channel groups")
    base, extra = divmod(total, len(names))
    return {g: base + (1 if i < extra else 0) for i, g in enumerate(names)}


class BranchEncoder(nn.Module):
    """Frames (B, T, C, H, W) in [0, 1] -> pooled ViT features per group, {g: (B, T, out_dim)}."""

    def __init__(
        self,
        spec: TaskSpec,
        groups: dict[str, list[int]],
        image_size: int,
        norm_mean: Sequence[float] | None,
        norm_std: Sequence[float] | None,
        make_vit: Callable[[int], ViTEncoder],
        blur: float = 0.0,
    ) -> None:
        super().__init__()
        self.groups = groups
        self.static = [g for g in spec.static_groups if g in groups]

        def pick(stats: Sequence[float] | None, ch: list[int]) -> list[float] | None:
            return None if stats is None else [float(stats[c]) for c in ch]

        self.adapters = nn.ModuleDict(
            {
                g: ImageAdapter(
                    len(ch), image_size, pick(norm_mean, ch), pick(norm_std, ch), blur=blur
                )
                for g, ch in groups.items()
            }
        )
        vits = {g: make_vit(len(ch)) for g, ch in groups.items()}
        self.vits = nn.ModuleDict(vits)
        self.out_dim: int = next(iter(vits.values())).out_dim  # the same for every group

    def forward(self, obs: Tensor) -> dict[str, Tensor]:
        # obs: (B, T, C, H, W) -> {group: (B, T, out_dim)}
        b, t = obs.shape[:2]
        feats: dict[str, Tensor] = {}
        for g, ch in self.groups.items():
            x = obs[:, :, ch]  # (B, T, c, H, W)
            if g in self.static:  # constant over the window: its first frame stands for all
                x = x[:, :1]
            n = x.shape[1]
            f = self.vits[g](self.adapters[g](x.flatten(0, 1))).view(b, n, -1)  # (B, n, out)
            feats[g] = f.expand(b, t, f.shape[-1]) if n != t else f
        return feats


class GroupProjector(nn.Module):
    """Per-group features {g: (..., in_dim)} -> (..., sum of dims): each group's own projector."""

    def __init__(self, in_dim: int, hidden_dim: int, dims: dict[str, int]) -> None:
        super().__init__()
        self.projs = nn.ModuleDict({g: Projector(in_dim, hidden_dim, d) for g, d in dims.items()})

    def forward(self, feats: dict[str, Tensor]) -> Tensor:
        return torch.cat([proj(feats[g]) for g, proj in self.projs.items()], dim=-1)
