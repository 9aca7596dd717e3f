"""LeWM world model: ViT encoder + projector, AdaLN-zero causal predictor + projector.

Training is teacher-forced: every frame of a window is encoded, and each next latent is predicted
from the encoded history of at most ``history_size`` frames, exactly the windows ``rollout`` uses
(position 0 of the predictor's positional embedding is always a window's oldest frame). No EMA and
no stop-gradient: targets come from the same encoder; SIGReg on the embeddings prevents collapse.

Options beyond LeWM's own (docs/models.md has what each did on wall_door): ``branches`` (one ViT
per channel group), ``fuse``, ``stem``, ``pool``, ``blur`` (frames smoothed by a fixed Gaussian
before the patches) and ``residual`` (the predictor outputs the change of the latest latent and
starts at "no change"; LeWM's replaces the latent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.lewm.action_encoder import ActionEncoder
from jepa_bench.models.lewm.adapters import ImageAdapter
from jepa_bench.models.lewm.branches import (
    BranchEncoder,
    GroupProjector,
    channel_groups,
    split_dims,
)
from jepa_bench.models.lewm.predictor import CausalPredictor
from jepa_bench.models.lewm.projector import Projector
from jepa_bench.models.lewm.vit import ViTEncoder
from jepa_bench.models.protocol import TrainLatents, recurrent_rollout


def count_params(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


class LeWM(nn.Module):
    """LeWorldModel at any size; defaults are the reference (18.0 M parameters on a 3x224 task)."""

    def __init__(
        self,
        spec: TaskSpec,
        *,
        image_size: int = 224,
        patch_size: int = 14,
        dim: int = 192,
        depth: int = 12,
        heads: int = 3,
        mlp_dim: int = 768,
        embed_dim: int | None = None,
        proj_hidden: int = 2048,
        history_size: int = 3,
        pred_depth: int = 6,
        pred_heads: int = 16,
        pred_dim_head: int = 64,
        pred_mlp_dim: int = 2048,
        pred_dropout: float = 0.1,
        act_smoothed: int = 10,
        act_mlp_scale: int = 4,
        norm_mean: Sequence[float] | None = None,
        norm_std: Sequence[float] | None = None,
        fused_attention: bool = True,
        pos_init: Literal["normal", "sincos"] = "normal",
        train_mode: Literal["teacher", "rollout"] = "teacher",
        pool: Literal["cls", "mean", "flatten", "max", "attention"] = "cls",
        branches: bool = False,
        fuse: Literal["sum", "concat"] = "sum",
        stem: Literal["patch", "conv"] = "patch",
        blur: float = 0.0,
        residual: bool = False,
        detach_target: bool = False,
    ) -> None:
        super().__init__()
        if history_size < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        if train_mode not in ("teacher", "rollout"):
            raise ValueError(f"train_mode must be 'teacher' or 'rollout', got {train_mode!r}")
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be true or false, got {residual!r}")
        if fuse not in ("sum", "concat"):
            raise ValueError(f"fuse must be 'sum' or 'concat', got {fuse!r}")
        self.train_mode = train_mode
        self.detach_target = detach_target
        embed_dim = dim if embed_dim is None else embed_dim
        self.obs_shape = tuple(spec.obs_shape)
        self.action_dim = spec.action_dim
        self.history_size = history_size
        self.repr_dim = embed_dim
        # Per-channel statistics: explicit kwargs, else the task's own (``obs_mean``/``obs_std``
        # when its spec carries them), else the adapter's defaults (ImageNet for RGB, 0.5/0.5).
        norm_mean = getattr(spec, "obs_mean", None) if norm_mean is None else norm_mean
        norm_std = getattr(spec, "obs_std", None) if norm_std is None else norm_std

        def make_vit(in_chans: int) -> ViTEncoder:
            return ViTEncoder(
                in_chans,
                image_size,
                patch_size,
                dim,
                depth,
                heads,
                mlp_dim,
                fused=fused_attention,
                pos_init=pos_init,
                pool=pool,
                stem=stem,
            )

        groups = channel_groups(spec, branches)
        self.branches: BranchEncoder | None = None
        self.projector: Projector | GroupProjector
        if len(groups) > 1:  # one ViT per channel group (branches.py)
            self.branches = BranchEncoder(
                spec, groups, image_size, norm_mean, norm_std, make_vit, blur=blur
            )
            feat_dim = self.branches.out_dim
        else:  # LeWM's own: one ViT over every channel
            self.adapter = ImageAdapter(
                spec.obs_shape[0], image_size, norm_mean, norm_std, blur=blur
            )
            self.vit = make_vit(spec.obs_shape[0])
            feat_dim = self.vit.out_dim
        if self.branches is not None and fuse == "concat":
            dims = split_dims(embed_dim, list(groups))
            self.projector = GroupProjector(feat_dim, proj_hidden, dims)
        else:
            self.projector = Projector(feat_dim, proj_hidden, embed_dim)
        self.action_encoder = ActionEncoder(spec.action_dim, embed_dim, act_smoothed, act_mlp_scale)
        self.predictor = CausalPredictor(
            history_size,
            embed_dim,
            embed_dim,
            embed_dim,
            pred_depth,
            pred_heads,
            pred_dim_head,
            pred_mlp_dim,
            pred_dropout,
            fused_attention,
        )
        self.pred_proj = Projector(embed_dim, proj_hidden, embed_dim)
        # ``residual``: the predictor outputs the change of the latest latent, starting at none
        # (the prediction projector's last layer is zeroed), so a fresh predictor carries the
        # state forward instead of replacing it with a random function of it.
        self.residual = residual
        if residual:
            self.pred_proj.zero_output()

    # -- protocol -------------------------------------------------------------------------------

    def encode(self, obs: Tensor) -> Tensor:
        """Observations (B, T, C, H, W) in [0, 1] -> latents (B, T, D)."""
        if obs.ndim != 5 or obs.shape[2] != self.obs_shape[0]:
            raise ValueError(
                f"expected obs of shape (B, T, {self.obs_shape[0]}, H, W), got {tuple(obs.shape)}"
            )
        if self.branches is not None:
            feats = self.branches(obs)  # {group: (B, T, F)}
            if isinstance(self.projector, GroupProjector):
                return self.projector(feats)  # (B, T, D), each group's share of D its own
            parts = list(feats.values())
            total = parts[0]
            for f in parts[1:]:
                total = total + f
            return self.projector(total)  # (B, T, D)
        b, t = obs.shape[:2]
        x = self.adapter(obs.flatten(0, 1))  # (B*T, C, S, S)
        z = self.projector(self.vit(x))  # (B*T, D)
        return z.view(b, t, -1)

    def predict(self, history: Tensor, actions: Tensor) -> Tensor:
        """Latents (B, K, D) and their actions (B, K, A) -> next latent (B, D).

        Only the latest ``history_size`` steps are used.
        """
        self._check_latents(history, actions)
        h = self.history_size
        feats = self._predictor_features(history[:, -h:], actions[:, -h:])  # (B, K', D)
        out = self.pred_proj(feats[:, -1])
        return history[:, -1] + out if self.residual else out

    def rollout(self, obs0: Tensor, actions: Tensor) -> Tensor:
        """First frame (B, C, H, W) and actions (B, T-1, A) -> latents (B, T, D), from obs0 only."""
        if obs0.ndim != 4:
            raise ValueError(f"expected obs0 of shape (B, C, H, W), got {tuple(obs0.shape)}")
        self._check_actions(actions, obs0.shape[0])
        z0 = self.encode(obs0.unsqueeze(1))[:, 0]  # (B, D)
        return recurrent_rollout(self, z0, actions, history=self.history_size)

    def train_latents(self, obs: Tensor, actions: Tensor) -> TrainLatents:
        """Predicted next latents against the encoded ones, (B, T-1, D) each.

        ``train_mode`` "teacher" (LeWM): every next latent from its causal *encoded* history.
        "rollout": the evaluation's view, recurrent from the first frame on the model's own
        predictions (as convnext_mlp trains), so training sees the drift of long rollouts.
        """
        if obs.ndim != 5 or obs.shape[1] < 2:
            raise ValueError(f"expected obs of shape (B, T >= 2, C, H, W), got {tuple(obs.shape)}")
        b, t = obs.shape[:2]
        self._check_actions(actions, b, t - 1)
        emb = self.encode(obs)  # (B, T, D)
        if self.train_mode == "rollout":
            pred = recurrent_rollout(self, emb[:, 0], actions, history=self.history_size)[:, 1:]
        else:
            pred = self.pred_proj(self.teacher_forced_features(emb[:, :-1], actions))
            if self.residual:
                pred = emb[:, :-1] + pred
        target = emb[:, 1:].detach() if self.detach_target else emb[:, 1:]
        return TrainLatents(pred=pred, target=target, emb=emb)  # pred: (B, T-1, D)

    def param_groups(self) -> dict[str, nn.Module]:
        """Parts by role: observation encoder, latent predictor, both projectors, action encoder."""
        return {
            "encoder": self.vit if self.branches is None else self.branches,
            "predictor": self.predictor,
            "projector": nn.ModuleList([self.projector, self.pred_proj]),
            "action_encoder": self.action_encoder,
        }

    # -- internals ------------------------------------------------------------------------------

    def param_breakdown(self) -> dict[str, int]:
        """Parameter count per part of ``param_groups`` plus the total."""
        counts = {name: count_params(m) for name, m in self.param_groups().items()}
        counts["total"] = count_params(self)
        return counts

    def teacher_forced_features(self, ctx: Tensor, actions: Tensor) -> Tensor:
        """Predictor features for steps 1..L from latents ctx (B, L, D) and actions (B, L, A).

        Step k+1 is predicted from ctx[:, max(0, k-H+1) : k+1], the window ``rollout`` would use.
        The first H steps share one causal pass; each later step gets its own full window.
        Returns (B, L, D) before the prediction projector.
        """
        b, length, d = ctx.shape
        h = self.history_size
        if length <= h:
            return self._predictor_features(ctx, actions)  # (B, L, D)
        n = length - h + 1  # windows starting at 0 .. L-H
        win_z = ctx.unfold(1, h, 1).transpose(2, 3).reshape(b * n, h, d)  # (B*n, H, D)
        win_a = actions.unfold(1, h, 1).transpose(2, 3).reshape(b * n, h, -1)  # (B*n, H, A)
        out = self._predictor_features(win_z, win_a).view(b, n, h, d)  # (B, n, H, D)
        return torch.cat([out[:, 0], out[:, 1:, -1]], dim=1)  # (B, H + n - 1, D) = (B, L, D)

    def _predictor_features(self, z: Tensor, actions: Tensor) -> Tensor:
        # z: (N, K, D), actions: (N, K, A) -> (N, K, D); NaN actions (sequence ends) count as 0
        c = self.action_encoder(torch.nan_to_num(actions, nan=0.0))  # (N, K, D)
        return self.predictor(z, c)

    def _check_actions(self, actions: Tensor, batch: int, steps: int | None = None) -> None:
        ok = actions.ndim == 3 and actions.shape[0] == batch and actions.shape[2] == self.action_dim
        if not ok or (steps is not None and actions.shape[1] != steps):
            want = f"({batch}, {'T-1' if steps is None else steps}, {self.action_dim})"
            raise ValueError(f"expected actions of shape {want}, got {tuple(actions.shape)}")

    def _check_latents(self, history: Tensor, actions: Tensor) -> None:
        if history.ndim != 3 or history.shape[1] < 1 or history.shape[2] != self.repr_dim:
            raise ValueError(
                f"expected history of shape (B, K >= 1, {self.repr_dim}), "
                f"got {tuple(history.shape)}"
            )
        self._check_actions(actions, history.shape[0], history.shape[1])
