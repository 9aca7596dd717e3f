"""One model's latents on a report's sequences: encoded, rolled out, drift, collapse, probe.

Each sequence is encoded frame by frame (``encode``) and rolled out from its first frame with its
actions (``rollout``). The drift curve is the per-step MSE between the two, averaged over the
sequences that reach the step. The ridge probe is fitted on the even-numbered sequences and scored
on the odd-numbered ones, so it is held out by sequence without encoding another split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from jepa_bench.data.base import WindowSet
from jepa_bench.evaluate.collapse import CollapseStats, collapse_stats
from jepa_bench.evaluate.evaluator import frozen
from jepa_bench.evaluate.probe import fit_linear_probe, r2_and_mse
from jepa_bench.models.protocol import WorldModel
from jepa_bench.report.latents import ReportData, Sequences

MAX_BATCH_BYTES = 128 * 2**20  # observation bytes per forward pass


@dataclass
class ModelLatents:
    """One model's latents on a run's ``ReportData``; P = frames over every sequence."""

    enc: np.ndarray  # (P, D) encoded latents of every frame
    pred: np.ndarray  # (P, D) rolled-out latents of the same frames (t = 0 is encoded)
    seq: np.ndarray  # (P,) sequence index of each point
    t: np.ndarray  # (P,) frame index of each point
    drift_mse: np.ndarray  # (L,) rollout MSE per step over the sequences that reach it
    drift_count: np.ndarray  # (L,) sequences reaching each step
    drift_scale: float  # mean per-dimension variance of the encoded latents at t >= 1
    collapse: CollapseStats  # collapse_stats of ``enc``
    probe_r2: dict[str, float]  # split-half ridge probe R2 per target, encoded latents

    @property
    def drift_rel(self) -> np.ndarray:
        """Rollout MSE relative to the latents' variance: 1 = no better than the mean latent."""
        if self.drift_scale > 0:
            return self.drift_mse / self.drift_scale
        return np.full_like(self.drift_mse, np.nan)


def _batch_size(ws: WindowSet, t: int, cap: int = 64) -> int:
    obs = ws.batch(np.array([0])).obs  # (1, T, C, H, W)
    per_seq = obs[0, 0].nbytes * t * 2  # observations plus the model's working copies
    return int(max(1, min(cap, MAX_BATCH_BYTES // max(per_seq, 1))))


@torch.no_grad()
def sequence_latents(
    model: WorldModel, seqs: Sequences, device: torch.device
) -> tuple[list[np.ndarray], list[np.ndarray], list[dict[str, np.ndarray]]]:
    """Encoded and rolled-out latents per sequence ((T_s, D) float32) and its targets (T_s, K)."""
    groups: dict[int, list[int]] = {}
    for s, (ws, _) in enumerate(seqs.items):
        groups.setdefault(id(ws), []).append(s)
    enc: list[Any] = [None] * len(seqs)
    pred: list[Any] = [None] * len(seqs)
    targets: list[Any] = [None] * len(seqs)
    for members in groups.values():
        ws = seqs.items[members[0]][0]
        bs = _batch_size(ws, int(seqs.lengths[members[0]]))
        for lo in range(0, len(members), bs):
            chunk = members[lo : lo + bs]
            batch = ws.batch(np.array([seqs.items[s][1] for s in chunk]))
            obs = torch.as_tensor(batch.obs, dtype=torch.float32, device=device)  # (B, T, C, H, W)
            act = torch.as_tensor(batch.actions, dtype=torch.float32, device=device)  # (B, T-1, A)
            z = model.encode(obs).float().cpu().numpy()  # z: (B, T, D)
            p = model.rollout(obs[:, 0], act).float().cpu().numpy()  # p: (B, T, D)
            if z.ndim != 3 or z.shape[:2] != obs.shape[:2] or p.shape != z.shape:
                raise ValueError(
                    f"model returned latents {z.shape} (encode) and {p.shape} (rollout) for "
                    f"observations {tuple(obs.shape)}; expected (B, T, D) for both"
                )
            for i, s in enumerate(chunk):
                enc[s], pred[s] = z[i], p[i]
                targets[s] = {k: np.asarray(v[i], np.float64) for k, v in batch.targets.items()}
    return enc, pred, targets


def _check_finite(name: str, arrays: list[np.ndarray]) -> None:
    bad = sum(int((~np.isfinite(a)).sum()) for a in arrays)
    if bad:
        total = sum(a.size for a in arrays)
        raise ValueError(
            f"{bad} of {total} {name} latent values are NaN or infinite; the model's weights are "
            "probably broken (did training diverge?)"
        )


def split_half_r2(
    enc: list[np.ndarray], targets: list[dict[str, np.ndarray]], names: tuple[str, ...]
) -> dict[str, float]:
    """R2 per target of a ridge probe fitted on even sequences and scored on odd ones.

    NaN for every target when there are fewer than two sequences or a target is missing.
    """

    nan = {n: float("nan") for n in names}
    if len(enc) < 2 or not names or any(n not in t for t in targets for n in names):
        return nan
    train, test = range(0, len(enc), 2), range(1, len(enc), 2)
    x_tr = np.concatenate([enc[i] for i in train])  # (M, D)
    x_te = np.concatenate([enc[i] for i in test])
    out = {}
    for name in names:
        y_tr = np.concatenate([targets[i][name] for i in train])  # (M, K)
        y_te = np.concatenate([targets[i][name] for i in test])
        mean, std = y_tr.mean(0), y_tr.std(0)
        std = np.where(std > 0, std, 1.0)
        y = torch.from_numpy((y_tr - mean) / std)[:, None]  # (M, 1, K)
        head = fit_linear_probe(torch.from_numpy(x_tr)[:, None], y)
        with torch.no_grad():
            pred = head(torch.from_numpy(x_te).float()).double().numpy() * std + mean  # (M', K)
        out[name] = r2_and_mse(pred, y_te)[0]
    return out


def model_latents(model: nn.Module, data: ReportData, device: Any) -> ModelLatents:
    """Encode and roll out ``data`` with ``model`` (frozen); raises on non-finite latents."""

    with frozen(model):
        # a run's model follows the protocol (the runner checks it when building the model)
        wm = cast(WorldModel, model)
        enc, pred, targets = sequence_latents(wm, data.seqs, torch.device(device))
    _check_finite("encoded", enc)
    _check_finite("rolled-out", pred)
    steps = max(len(z) for z in enc)
    sq_sum, count = np.zeros(steps), np.zeros(steps)
    for z, p in zip(enc, pred):
        sq_sum[: len(z)] += ((p.astype(np.float64) - z) ** 2).mean(axis=1)  # (T_s,)
        count[: len(z)] += 1
    later = np.concatenate([z[1:] for z in enc]).astype(np.float64)  # (M, D)
    scale = float(later.var(axis=0).mean()) if len(later) else 0.0
    enc_all = np.concatenate(enc)  # (P, D)
    return ModelLatents(
        enc=enc_all,
        pred=np.concatenate(pred),
        seq=np.concatenate([np.full(len(z), s) for s, z in enumerate(enc)]),
        t=np.concatenate([np.arange(len(z)) for z in enc]),
        drift_mse=sq_sum / np.maximum(count, 1),
        drift_count=count,
        drift_scale=scale,
        collapse=collapse_stats(enc_all),
        probe_r2=split_half_r2(enc, targets, data.targets),
    )
