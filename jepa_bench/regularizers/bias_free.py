"""Bias-free models: a model transform, no loss terms.

Seed 004 reports that removing bias terms may reduce collapse: without additive constants a
network cannot produce a constant output by zeroing its weights and leaning on its biases.
``remove_biases`` drops the bias of every linear, convolution and normalisation layer (the
normalisation layers keep their scale); any other parameter whose name marks it as a bias (for
instance ``in_proj_bias`` of attention or ``bias_ih_l0`` of recurrent layers) is set to zero and
frozen. The transform runs before the optimiser is built, so frozen biases are never updated.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

from jepa_bench.regularizers.base import Regularizer

#: Layers whose forward accepts ``bias=None``; their bias parameter is removed outright.
REMOVABLE: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    _ConvNd,  # Conv1d/2d/3d and the transposed convolutions
    nn.LayerNorm,
    nn.GroupNorm,
    _NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
)


def _is_bias_name(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf.startswith("bias") or leaf.endswith("bias")


def remove_biases(model: nn.Module) -> dict[str, list[str]]:
    """Remove or zero-and-freeze every bias of ``model`` in place.

    Returns the qualified names of the parameters ``removed`` and of those ``frozen`` at zero.
    """
    removed: list[str] = []
    for mod_name, module in model.named_modules():
        prefix = f"{mod_name}." if mod_name else ""
        if isinstance(module, REMOVABLE) and getattr(module, "bias", None) is not None:
            module.register_parameter("bias", None)
            removed.append(prefix + "bias")
        if isinstance(module, nn.MultiheadAttention) and module.in_proj_bias is not None:
            module.register_parameter("in_proj_bias", None)
            removed.append(prefix + "in_proj_bias")
    frozen: list[str] = []
    for name, param in model.named_parameters():
        if _is_bias_name(name):
            with torch.no_grad():
                param.zero_()
            param.requires_grad_(False)
            frozen.append(name)
    return {"removed": removed, "frozen": frozen}


class BiasFree(Regularizer):
    """Bias-free model: drop biases of linear, conv and norm layers (no loss terms)."""

    name = "bias_free"

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, list[str]] = {"removed": [], "frozen": []}

    def transform_model(self, model: nn.Module) -> nn.Module:
        """Remove the model's biases in place and return it."""
        self.report = remove_biases(model)
        return model

    def config(self) -> dict[str, object]:
        return {"removes": sorted(t.__name__ for t in REMOVABLE), "other_biases": "zeroed+frozen"}
