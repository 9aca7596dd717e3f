"""An external world model for jepa-bench: strided-conv encoder + GRU-cell predictor.

Nothing here is registered in jepa-bench; plug it in by path:

    jepa-bench run --model examples/tiny_conv_gru.py:tiny_conv_gru --task wall_door

It follows the model protocol of docs/models.md: ``encode``, ``predict``, ``rollout``,
``train_latents``, ``param_groups`` and ``repr_dim``; its ``ModelPreset`` adds training defaults.
About 14 K parameters on wall_door with the default size.
"""

from __future__ import annotations

from torch import Tensor, nn

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.preset import ModelPreset
from jepa_bench.models.protocol import TrainLatents, recurrent_rollout


class TinyConvGRU(nn.Module):
    """Frames -> 3 strided convs -> pooled linear latent; next latent = z + out(GRU(action, z))."""

    def __init__(self, spec: TaskSpec, dim: int = 32, width: int = 12, pool: int = 3) -> None:
        super().__init__()
        channels = spec.obs_shape[0]
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 5, stride=2, padding=2),
            nn.GELU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),
            nn.Linear(width * pool * pool, dim),
            nn.LayerNorm(dim),
        )
        self.predictor = nn.ModuleDict(
            {
                "action": nn.Linear(spec.action_dim, dim),
                "cell": nn.GRUCell(dim, dim),
                "out": nn.Linear(dim, dim),
            }
        )
        self.repr_dim = dim

    def encode(self, obs: Tensor) -> Tensor:
        # obs: (B, T, C, H, W) -> (B, T, D)
        b, t = obs.shape[:2]
        return self.encoder(obs.flatten(0, 1)).view(b, t, self.repr_dim)

    def predict(self, history: Tensor, actions: Tensor) -> Tensor:
        # history: (B, K, D), actions: (B, K, A) -> (B, D); Markovian: the last step only
        z, a = history[:, -1], self.predictor["action"](actions[:, -1])  # (B, D), (B, D)
        return z + self.predictor["out"](self.predictor["cell"](a, z))

    def rollout(self, obs0: Tensor, actions: Tensor) -> Tensor:
        # obs0: (B, C, H, W), actions: (B, T-1, A) -> (B, T, D)
        z0 = self.encode(obs0.unsqueeze(1))[:, 0]  # (B, D)
        return recurrent_rollout(self, z0, actions, history=1)

    def train_latents(self, obs: Tensor, actions: Tensor) -> TrainLatents:
        emb = self.encode(obs)  # (B, T, D)
        pred = recurrent_rollout(self, emb[:, 0], actions, history=1)  # (B, T, D)
        return TrainLatents(pred=pred[:, 1:], target=emb[:, 1:], emb=emb)

    def param_groups(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "predictor": self.predictor}


# The factory jepa-bench calls, ``factory(spec, **model_kwargs)``. A ``ModelPreset`` also carries
# training defaults (optional: a plain function trains with the generic ones).
tiny_conv_gru = ModelPreset(
    build=TinyConvGRU,
    train=dict(optimizer="adamw", lr=1e-3, weight_decay=1e-4, grad_clip=1.0, batch_size=64),
    budgets={
        "smoke": dict(steps=2, batch_size=4),
        "default": dict(steps=200, batch_size=16),
        "full": dict(steps=20_000, batch_size=64),
    },
    reg="vicreg",
)
