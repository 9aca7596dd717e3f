"""Parameter counts by model part.

The rule (used for every model in every record):

- Every trainable parameter (``requires_grad`` set) is counted once. A tensor shared between
  layers (tied weights: the same ``nn.Parameter`` object reached twice) is counted once.
- Buffers (BatchNorm running statistics, fixed positional tables, ...) are not counted.
- ``model.param_groups()`` names the parts, e.g. ``{"encoder": ..., "predictor": ...}``. Parts
  must not overlap: a parameter in two parts is an error, so the parts always sum to the total.
- Parameters of the model that belong to no part are counted under ``"other"``; that key is only
  present when it is non-zero.
- ``"total"`` is the number of unique trainable parameters of the whole model.

``trainable_only=False`` counts frozen parameters too (for a model loaded with its weights frozen).
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn


def _unique(params: Iterable[nn.Parameter], trainable_only: bool) -> dict[int, nn.Parameter]:
    """Parameters keyed by identity (shared tensors appear once)."""
    out: dict[int, nn.Parameter] = {}
    for p in params:
        if trainable_only and not p.requires_grad:
            continue
        out[id(p)] = p
    return out


def param_counts(model: nn.Module, trainable_only: bool = True) -> dict[str, int]:
    """Parameter counts per ``model.param_groups()`` part, plus ``"other"`` and ``"total"``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"param_counts needs a torch.nn.Module, got {type(model).__name__}")
    get_groups = getattr(model, "param_groups", None)  # the protocol method, if defined
    groups = get_groups() if get_groups is not None else {}
    if not isinstance(groups, dict):
        kind = type(groups).__name__
        raise TypeError(f"param_groups() must return a dict of modules, got {kind}")
    reserved = {"total", "other"} & set(groups)
    if reserved:
        raise ValueError(f"param_groups() uses reserved part name(s): {sorted(reserved)}")

    everything = _unique(model.parameters(), trainable_only)
    owner: dict[int, str] = {}
    counts: dict[str, int] = {}
    for name, part in groups.items():
        if not isinstance(part, nn.Module):
            raise TypeError(f"param_groups()[{name!r}] is a {type(part).__name__}, not a module")
        params = _unique(part.parameters(), trainable_only)
        for pid, p in params.items():
            if pid in owner:
                raise ValueError(
                    f"parts {owner[pid]!r} and {name!r} overlap: a parameter of shape "
                    f"{tuple(p.shape)} is in both"
                )
            if pid not in everything:
                raise ValueError(
                    f"part {name!r} holds a parameter of shape {tuple(p.shape)} that is not "
                    "registered in the model"
                )
            owner[pid] = name
        counts[name] = sum(p.numel() for p in params.values())

    other = sum(p.numel() for pid, p in everything.items() if pid not in owner)
    if other:
        counts["other"] = other
    counts["total"] = sum(p.numel() for p in everything.values())
    return counts
