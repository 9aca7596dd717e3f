"""Causal transformer predictor with AdaLN-zero action conditioning (LeWM's ARPredictor layout).

Each block: norm1/norm2 are LayerNorms without affine parameters; the per-step action embedding
goes through SiLU -> Linear(dim, 6 * dim) (zero-initialised) giving shift/scale/gate for the
attention and MLP branches:

    x = x + gate_msa * Attn(modulate(norm1(x), shift_msa, scale_msa))
    x = x + gate_mlp * MLP(modulate(norm2(x), shift_mlp, scale_mlp))

With zero gates every block is the identity at initialisation, so actions (and attention) start
with no effect and the predictor learns how much to use them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from jepa_bench.models.lewm.attention import attend, merge_heads, split_heads


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """AdaLN modulation x * (1 + scale) + shift."""
    return x * (1 + scale) + shift


class CausalAttention(nn.Module):
    """LN -> bias-free QKV (heads x dim_head) -> causal attention -> output projection."""

    def __init__(
        self, dim: int, heads: int, dim_head: int, dropout: float = 0.0, fused: bool = True
    ) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dropout = dropout
        self.fused = fused
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, K, dim)
        qkv = self.to_qkv(self.norm(x)).chunk(3, dim=-1)
        q, k, v = (split_heads(t, self.heads) for t in qkv)  # (N, heads, K, dim_head)
        drop = self.dropout if self.training else 0.0
        out = attend(q, k, v, causal=True, dropout_p=drop, fused=self.fused)
        return self.to_out(merge_heads(out))


class FeedForward(nn.Module):
    """LN -> Linear -> GELU -> Dropout -> Linear -> Dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class AdaLNZeroBlock(nn.Module):
    """Transformer block whose shifts, scales and gates come from the per-step condition."""

    def __init__(
        self,
        dim: int,
        heads: int,
        dim_head: int,
        mlp_dim: int,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.attn = CausalAttention(dim, heads, dim_head, dropout, fused)
        self.mlp = FeedForward(dim, mlp_dim, dropout)
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        ada_out = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(ada_out.weight)
        nn.init.zeros_(ada_out.bias)
        self.ada = nn.Sequential(nn.SiLU(), ada_out)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        # x: (N, K, dim), c: (N, K, dim)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.ada(c).chunk(6, dim=-1)
        x = x + gate_a * self.attn(modulate(self.norm1(x), shift_a, scale_a))
        return x + gate_m * self.mlp(modulate(self.norm2(x), shift_m, scale_m))


class CausalPredictor(nn.Module):
    """Latents (N, K, in_dim) + conditions (N, K, in_dim) -> next-step features (N, K, out_dim).

    Output k depends only on inputs 0..k (causal attention). K may not exceed ``num_frames``,
    the length of the learned positional embedding; position 0 is always the window's oldest frame.
    """

    def __init__(
        self,
        num_frames: int,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        depth: int,
        heads: int,
        dim_head: int,
        mlp_dim: int,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        # Unit-variance init, as in the reference predictor: latents are ~N(0, 1) under SIGReg.
        self.pos_embedding = nn.Parameter(torch.randn(1, num_frames, in_dim))
        proj = in_dim != hidden_dim
        self.input_proj = nn.Linear(in_dim, hidden_dim) if proj else nn.Identity()
        self.cond_proj = nn.Linear(in_dim, hidden_dim) if proj else nn.Identity()
        self.blocks = nn.ModuleList(
            AdaLNZeroBlock(hidden_dim, heads, dim_head, mlp_dim, dropout, fused)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(hidden_dim)
        self.output_proj = (
            nn.Linear(hidden_dim, out_dim) if hidden_dim != out_dim else nn.Identity()
        )

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        # x: (N, K, in_dim), c: (N, K, in_dim) -> (N, K, out_dim)
        k = x.shape[1]
        if k > self.num_frames:
            raise ValueError(f"predictor window of {k} frames exceeds its {self.num_frames}")
        h = self.input_proj(x + self.pos_embedding[:, :k])
        c = self.cond_proj(c)
        for block in self.blocks:
            h = block(h, c)
        return self.output_proj(self.norm(h))
