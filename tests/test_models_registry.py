"""Every registered model: forward/backward on a small batch, shapes, finiteness, gradients.

Plugged-in models (entry points of installed packages, and the example model of examples/ by file
path) are tested the same way.
"""

from pathlib import Path

import pytest
import torch

from jepa_bench.models.plugins import resolve_model
from jepa_bench.registry import MODELS
from jepa_bench.regularizers.base import Objective
from tests.helpers import WALL_DOOR_LIKE

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tiny_conv_gru.py"
PLUGGED = {"example:tiny_conv_gru": f"{EXAMPLE}:tiny_conv_gru"}  # test id -> model reference


@pytest.mark.parametrize("name", MODELS.names() + list(PLUGGED))
def test_forward_backward_shapes_and_finiteness(name):
    """train_latents, encode and rollout have protocol shapes; loss and gradients are finite."""
    torch.manual_seed(0)
    model = resolve_model(PLUGGED.get(name, name))(WALL_DOOR_LIKE)
    b, t = 2, 4
    obs = torch.rand(b, t, *WALL_DOOR_LIKE.obs_shape)
    act = torch.randn(b, t - 1, WALL_DOOR_LIKE.action_dim)
    lat = model.train_latents(obs, act)
    assert lat.pred.shape == lat.target.shape and lat.pred.shape[-1] == model.repr_dim
    assert lat.emb.shape == (b, t, model.repr_dim)
    loss = Objective([])(lat)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        assert model.encode(obs).shape == (b, t, model.repr_dim)
        z = model.rollout(obs[:, 0], act)
    assert z.shape == (b, t, model.repr_dim) and torch.isfinite(z).all()
    assert set(model.param_groups()) >= {"encoder", "predictor"}
