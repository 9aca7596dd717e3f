"""bias_free: the model transform that removes every bias."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from jepa_bench.regularizers.bias_free import BiasFree, remove_biases
from jepa_bench.regularizers.compose import build_objective


class _Custom(nn.Module):
    """A hand-written layer with a raw bias parameter that no known layer type covers."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.full((d,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.bias


class _Net(nn.Module):
    """Conv, norm, attention, recurrent and linear layers, all with biases."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2 = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.GroupNorm(2, 4))
        self.conv1 = nn.Conv1d(4, 8, 3)
        self.norm = nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.custom = _Custom(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(x).flatten(2)  # h: (B, 4, L)
        h = self.norm(self.conv1(h).transpose(1, 2))  # h: (B, L', 8)
        h = h + self.attn(h, h, h)[0]
        h = self.gru(h)[0]
        return self.head(self.custom(h.mean(1)))  # (B, 3)


def _trainable_biases(model: nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if "bias" in n and p.requires_grad]


def test_no_trainable_bias_remains_and_model_still_trains() -> None:
    """After the transform no parameter named like a bias is trainable, the forward and backward
    run in train and eval mode, and every remaining weight still gets a gradient."""
    torch.manual_seed(0)
    model = _Net()
    assert len(_trainable_biases(model)) > 8
    out = BiasFree().transform_model(model)
    assert out is model
    assert _trainable_biases(model) == []
    x = torch.randn(4, 2, 9, 9)
    model(x).square().sum().backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (4, 3)


def test_norm_layers_keep_their_weight() -> None:
    """LayerNorm and BatchNorm lose their bias but keep a trainable, unchanged scale."""
    ln, bn = nn.LayerNorm(6), nn.BatchNorm1d(6)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 2.0)
    before = ln.weight.clone()
    remove_biases(nn.Sequential(ln, bn))
    assert ln.bias is None and bn.bias is None
    assert ln.weight.requires_grad and bn.weight.requires_grad
    torch.testing.assert_close(ln.weight, before)


def test_unknown_bias_parameters_are_zeroed_and_frozen() -> None:
    """A raw bias parameter of a custom layer is set to 0 and frozen; the report names it."""
    model = nn.Sequential(nn.Linear(4, 4), _Custom(4))
    report = remove_biases(model)
    assert report == {"removed": ["0.bias"], "frozen": ["1.bias"]}
    assert not model[1].bias.requires_grad and float(model[1].bias.abs().sum()) == 0.0


def _mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )


def test_zero_input_maps_to_zero_only_without_biases() -> None:
    """A bias-free ReLU MLP maps a zero input to exactly zero; with its biases it does not."""
    torch.manual_seed(1)
    model = _mlp()
    zero = torch.zeros(2, 5)
    assert model(zero).abs().sum() > 0
    remove_biases(model)
    assert torch.equal(model(zero), torch.zeros(2, 3))


@settings(max_examples=30, deadline=None)
@given(a=st.floats(0.01, 100.0), seed=st.integers(0, 2**16))
def test_bias_free_relu_mlp_is_positively_homogeneous(a: float, seed: int) -> None:
    """Without biases a ReLU MLP satisfies f(a x) = a f(x) for a > 0: no constant offset left."""
    torch.manual_seed(seed)
    model = _mlp()
    remove_biases(model)
    x = torch.randn(3, 5)
    torch.testing.assert_close(model(a * x), a * model(x), rtol=1e-4, atol=1e-5 * max(a, 1.0))


def test_transform_is_idempotent_and_reachable_from_objective() -> None:
    """``--reg none+bias_free`` removes biases through the objective; a second pass changes
    nothing."""
    model = _mlp()
    obj = build_objective("none+bias_free")
    obj.transform_model(model)
    n_params = sum(p.numel() for p in model.parameters())
    assert remove_biases(model) == {"removed": [], "frozen": []}
    assert sum(p.numel() for p in model.parameters()) == n_params == 5 * 16 + 16 * 16 + 16 * 3
