"""The model protocol: all the trainer and the evaluator know about a world model.

Shapes (B = batch, T = time steps, C/H/W = observation, A = action size, D = latent size):

- ``encode(obs)``: obs float32 (B, T, C, H, W) -> latents (B, T, D).
- ``predict(history, actions)``: latents (B, K, D) of the last K steps (K >= 1; a model uses as many
  as its history window allows) and their actions (B, K, A) -> the next latent (B, D).
- ``rollout(obs0, actions)``: first observation (B, C, H, W) and actions (B, T-1, A) -> latents
  (B, T, D) with t = 0 the encoded first observation; every later latent is predicted from the
  model's own earlier predictions (no observation after t = 0 is seen).
- ``train_latents(obs, actions)``: the model's training view of a window, a ``TrainLatents`` of
  predictions and their targets (same shape) plus the encoder's embeddings (B, T, D). Recurrent
  models roll out from the first observation; teacher-forced models (lewm) predict from encoded
  history.
- ``param_groups()``: parameter counts by part (see ``jepa_bench.models.params``).

Models are ``torch.nn.Module`` subclasses with an integer attribute ``repr_dim`` (= D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass
class TrainLatents:
    """What a model hands the objective for one training window."""

    pred: Tensor  # (B, T', D) predicted latents
    target: Tensor  # (B, T', D) encoded latents they are compared with
    emb: Tensor  # (B, T_e, D) embeddings of the frames encoded (all T unless subsampled)


@runtime_checkable
class WorldModel(Protocol):
    """A JEPA world model as jepa-bench sees it."""

    repr_dim: int

    def encode(self, obs: Tensor) -> Tensor: ...

    def predict(self, history: Tensor, actions: Tensor) -> Tensor: ...

    def rollout(self, obs0: Tensor, actions: Tensor) -> Tensor: ...

    def train_latents(self, obs: Tensor, actions: Tensor) -> TrainLatents: ...

    def param_groups(self) -> dict[str, torch.nn.Module]: ...


def recurrent_rollout(model: WorldModel, z0: Tensor, actions: Tensor, history: int = 1) -> Tensor:
    """Roll ``model.predict`` forward from ``z0`` (B, D) over ``actions`` (B, T-1, A).

    The predictor sees at most ``history`` of its own latest latents. Returns (B, T, D).
    """
    zs = [z0]
    for t in range(actions.shape[1]):
        lo = max(0, t + 1 - history)
        hist = torch.stack(zs[lo : t + 1], dim=1)  # (B, K, D)
        zs.append(model.predict(hist, actions[:, lo : t + 1]))
    return torch.stack(zs, dim=1)
