"""A plain ViT encoder (pre-norm blocks, learned positional embedding) returning the CLS token.

Layer order follows the ViT used by LeWM (HF ``ViTModel`` "tiny"): patch embedding by a strided
convolution, CLS token prepended, learned positional embedding, blocks of
LN -> MHSA -> residual, LN -> MLP(GELU) -> residual, and a final LayerNorm.
"""

from __future__ import annotations

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


class ViTEncoder(nn.Module):
    """Images (N, C, S, S) at the model's size -> CLS features (N, dim)."""

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
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(
                f"image size {image_size} is not a multiple of patch size {patch_size}"
            )
        self.image_size = image_size
        self.num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, dim))
        self.blocks = nn.ModuleList(ViTBlock(dim, heads, mlp_dim, fused) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal(0.02) weights and zero biases, as in the HF ViT initialisation."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, C, S, S) -> (N, dim)
        p = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, P, dim)
        cls = self.cls_token.expand(p.shape[0], -1, -1)  # (N, 1, dim)
        h = torch.cat([cls, p], dim=1) + self.pos_embed  # (N, P + 1, dim)
        for block in self.blocks:
            h = block(h)
        return self.norm(h[:, 0])  # LayerNorm is per token, so normalising CLS alone is exact
