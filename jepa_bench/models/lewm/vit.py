"""A plain ViT encoder (pre-norm blocks, learned positional embedding) returning the CLS token.

Layer order follows the ViT used by LeWM (HF ``ViTModel`` "tiny"): patch embedding by a strided
convolution, CLS token prepended, learned positional embedding, blocks of
LN -> MHSA -> residual, LN -> MLP(GELU) -> residual, and a final LayerNorm.

The positional embedding is always learned; ``pos_init`` chooses its start. ``"normal"`` is the
HF initialisation (truncated normal, std 0.02). ``"sincos"`` starts from a fixed 2-D sin-cos
table (as in MAE). On sparse images the choice matters: in a frame that is empty except for a
small dot, every empty patch embeds to the same vector, so with std-0.02 positions the CLS token
can hardly tell *where* the dot's patch is. Supervised location regression from lewm_cpu's
features on wall_door reached 56 px^2 after 125 steps from "normal" and 11 px^2 from "sincos".
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from jepa_bench.models.lewm.attention import attend, merge_heads, split_heads


class SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention with a biased fused QKV projection."""

    def __init__(self, dim: int, heads: int, fused: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"ViT hidden size {dim} is not divisible by its {heads} heads")
        self.heads = heads
        self.fused = fused
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, L, dim)
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(x).chunk(3, dim=-1))
        return self.proj(merge_heads(attend(q, k, v, fused=self.fused)))


class AttentionPool(nn.Module):
    """One learned query attending over the patch tokens (multi-head): (N, P, dim) -> (N, dim).

    Where the mean gives each of P patches 1/P of the vector, the query can give a small
    object's patch most of it, wherever the patch is.
    """

    def __init__(self, dim: int, heads: int, fused: bool = True) -> None:
        super().__init__()
        self.heads, self.fused = heads, fused
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, tokens: Tensor) -> Tensor:
        # tokens: (N, P, dim) -> (N, dim)
        q = split_heads(self.query.expand(tokens.shape[0], -1, -1), self.heads)  # (N, h, 1, d)
        k, v = (split_heads(t, self.heads) for t in self.kv(tokens).chunk(2, dim=-1))
        return self.proj(merge_heads(attend(q, k, v, fused=self.fused)))[:, 0]


class ViTBlock(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, fused: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-12)
        self.attn = SelfAttention(dim, heads, fused=fused)
        self.norm2 = nn.LayerNorm(dim, eps=1e-12)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def sincos_2d(grid: int, dim: int) -> Tensor:
    """(grid * grid, dim) 2-D sin-cos position table: x in the first half, y in the second."""
    if dim % 4:
        raise ValueError(f"a 2-D sin-cos embedding needs a hidden size divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # (dim/4,)
    ys, xs = torch.meshgrid(
        torch.arange(grid, dtype=torch.float64),
        torch.arange(grid, dtype=torch.float64),
        indexing="ij",
    )
    parts = []
    for coord in (xs.flatten(), ys.flatten()):  # row-major patch order, as the conv flattens
        angle = coord[:, None] * omega[None]  # (P, dim/4)
        parts += [angle.sin(), angle.cos()]
    return torch.cat(parts, dim=1).float()  # (P, dim)


POOLS = ("cls", "mean", "flatten", "max", "attention")
STEMS = ("patch", "conv")


class ConvStem(nn.Module):
    """Images (N, C, S, S) -> patch tokens (N, dim, G, G) by 3x3 stride-2 convolutions.

    The alternative to ViT's one strided patch convolution, after "Early convolutions help
    transformers see better" (Xiao et al., 2021): stages halve the map (channels doubling up to
    ``dim // 2``) while it stays at least G = S // patch wide, an average pool brings it to G x G,
    and a 1x1 convolution makes the tokens. The token grid, and so the transformer's cost, is
    the patch convolution's. What it did on wall_door is in docs/models.md.
    """

    def __init__(self, in_chans: int, image_size: int, patch_size: int, dim: int) -> None:
        super().__init__()
        grid = image_size // patch_size
        sizes = [image_size]
        while sizes[-1] > grid and (sizes[-1] + 1) // 2 >= grid:
            sizes.append((sizes[-1] + 1) // 2)
        stages = len(sizes) - 1
        chans = [in_chans] + [max(8, dim // 2 ** (stages - i)) for i in range(stages)]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GELU()]
        layers += [nn.AdaptiveAvgPool2d(grid), nn.Conv2d(chans[-1], dim, 1)]
        self.layers = nn.Sequential(*layers)

    def reset_parameters(self) -> None:
        """He-normal stage weights (the signal keeps its scale through the GELUs), zero biases;
        the token projection stays at the ViT's std 0.02."""
        convs = [m for m in self.layers if isinstance(m, nn.Conv2d)]
        for conv in convs[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ViTEncoder(nn.Module):
    """Images (N, C, S, S) at the model's size -> pooled features (N, out_dim).

    ``stem``: "patch" (ViT's strided patch convolution) or "conv" (``ConvStem``).
    ``pool``: "cls" (LeWM's: the CLS token, ``out_dim = dim``), "mean" (mean of the patch
    tokens, ``dim``), "flatten" (every patch token side by side, ``num_patches * dim``: where a
    patch sits stays a place in the vector instead of something attention must write into one
    token), "max" (per-feature maximum over the patch tokens, ``dim``) or "attention" (a learned
    query attending over them, ``AttentionPool``, ``dim``).
    """

    def __init__(
        self,
        in_chans: int,
        image_size: int,
        patch_size: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_dim: int,
        fused: bool = True,
        pos_init: Literal["normal", "sincos"] = "normal",
        pool: Literal["cls", "mean", "flatten", "max", "attention"] = "cls",
        stem: Literal["patch", "conv"] = "patch",
    ) -> None:
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
        if pos_init not in ("normal", "sincos"):
            raise ValueError(f"pos_init must be 'normal' or 'sincos', got {pos_init!r}")
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
        self.pos_init = pos_init
        self.pool = pool
        if image_size % patch_size:
            raise ValueError(
                f"image size {image_size} is not a multiple of patch size {patch_size}"
            )
        self.image_size = image_size
        self.num_patches = (image_size // patch_size) ** 2
        self.out_dim = dim * self.num_patches if pool == "flatten" else dim
        self.patch_embed: nn.Module
        if stem == "conv":
            self.patch_embed = ConvStem(in_chans, image_size, patch_size, dim)
        else:
            self.patch_embed = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, dim))
        self.blocks = nn.ModuleList(ViTBlock(dim, heads, mlp_dim, fused) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        # built last, and only when used: the other pools' initial weights stay as they were
        self.attn_pool = AttentionPool(dim, heads, fused) if pool == "attention" else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal(0.02) weights and zero biases, as in the HF ViT initialisation;
        positions from ``pos_init``."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if isinstance(self.patch_embed, ConvStem):
            self.patch_embed.reset_parameters()
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.attn_pool is not None:
            nn.init.trunc_normal_(self.attn_pool.query, std=0.02)
        if self.pos_init == "sincos":
            grid = math.isqrt(self.num_patches)
            with torch.no_grad():
                self.pos_embed.zero_()
                self.pos_embed[0, 1:] = sincos_2d(grid, self.pos_embed.shape[-1])

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, C, S, S) -> (N, out_dim)
        p = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, P, dim)
        cls = self.cls_token.expand(p.shape[0], -1, -1)  # (N, 1, dim)
        h = torch.cat([cls, p], dim=1) + self.pos_embed  # (N, P + 1, dim)
        for block in self.blocks:
            h = block(h)
        if self.pool == "cls":
            return self.norm(h[:, 0])  # LayerNorm is per token: normalising CLS alone is exact
        tokens = self.norm(h[:, 1:])  # (N, P, dim)
        if self.attn_pool is not None:
            return self.attn_pool(tokens)  # (N, dim)
        if self.pool == "max":
            return tokens.amax(1)  # (N, dim)
        return tokens.mean(1) if self.pool == "mean" else tokens.flatten(1)  # (N, out_dim)
