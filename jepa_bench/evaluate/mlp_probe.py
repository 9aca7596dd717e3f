"""The MLP probe head, trained and scored setting by setting as the DL25SP course evaluator does.

docs/probe_protocol.md lists every setting beside the course's. In short: batches of
``batch_size`` windows (64) with the last partial batch dropped, on the train split (shuffled) and
on every eval split (in order); Adam; the course's cosine schedule per step (``lr_at``); the MSE of
normalised targets averaged over batch, time steps and coordinates; a random subset of
``sample_steps`` time steps per training window when windows are longer (the course's
``sample_timesteps``). A split smaller than one batch is used whole as a single batch (the course
would have no batch at all); that never happens at the default and full budgets.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

WARMUP_FRAC = 0.1  # of all training steps
FINAL_LR_FRAC = 1e-3  # the cosine ends (never quite) at this fraction of the peak rate
LR_REF_BATCH = 256  # the peak rate is lr * batch / LR_REF_BATCH


def batch_for(n: int, batch_size: int) -> int:
    """The batch used on a split of ``n`` windows: ``batch_size``, or all ``n`` when fewer."""
    if n < 1 or batch_size < 1:
        raise ValueError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    return min(batch_size, n)


def full_batches(n: int, batch_size: int) -> int:
    """Batches in one pass over ``n`` windows when the last partial batch is dropped."""
    return n // batch_for(n, batch_size)


def scored_windows(n: int, batch_size: int) -> int:
    """How many windows (the first ones, in order) an eval split of ``n`` windows is scored on."""
    return full_batches(n, batch_size) * batch_for(n, batch_size)


def scheduled_lr(step: int, total: int, peak: float) -> float:
    """The rate the course's scheduler sets after training step ``step`` of ``total``.

    Linear warm-up from 0 over ``int(0.1 * total)`` steps, then a cosine from ``peak`` towards
    ``peak * 1e-3``, reached at step ``total``.
    """
    if total < 1 or not 0 <= step <= total:
        raise ValueError(f"need 0 <= step <= total and total >= 1, got step={step}, total={total}")
    warmup = int(WARMUP_FRAC * total)
    if step < warmup:
        return peak * step / warmup
    q = 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / (total - warmup)))
    return peak * q + peak * FINAL_LR_FRAC * (1.0 - q)


def lr_at(step: int, total: int, lr: float, batch_size: int) -> float:
    """The learning rate training step ``step`` (0-based) runs with, as in the course.

    The course builds Adam with ``lr`` and applies its schedule only *after* each step, so step 0
    runs with ``lr`` itself (unscaled) and step ``k >= 1`` with ``scheduled_lr(k - 1)`` of the
    peak ``lr * batch_size / 256``.
    """
    if step == 0:
        return lr
    return scheduled_lr(step - 1, total, lr * batch_size / LR_REF_BATCH)


def make_mlp_head(d: int, k: int, hidden: int) -> nn.Sequential:
    """Linear(D, hidden) -> ReLU -> Linear(hidden, K), default init drawn from the global RNG."""
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, k))


def sample_time_steps(z: Tensor, y: Tensor, k: int | None) -> tuple[Tensor, Tensor]:
    """``k`` distinct random time steps per window of ``z`` (b, T, D) and ``y`` (b, T, K), drawn
    as the course draws them: ``torch.randperm(T)[:k]`` per window, from the global RNG.

    Windows of at most ``k`` steps (or ``k`` None) are returned whole, drawing nothing.
    """
    b, t = z.shape[:2]
    if k is None or k >= t:
        return z, y
    pick = torch.stack([torch.randperm(t)[:k] for _ in range(b)]).to(z.device)  # (b, k)
    take = lambda a: torch.gather(a, 1, pick[..., None].expand(-1, -1, a.shape[-1]))  # noqa: E731
    return take(z), take(y)


def train_mlp_probe(
    z: Tensor,
    y: Tensor,
    *,
    hidden: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    sample_steps: int | None = None,
    progress: bool = False,
    desc: str = "probe",
) -> tuple[nn.Module, list[float]]:
    """Fit an MLP head as the course does; returns the head and the mean loss of each epoch.

    ``z``: (N, T, D) latents, ``y``: (N, T, K) normalised targets; ``lr`` is the unscaled rate
    (``lr_at`` scales it). ``seed`` seeds torch's global generator, forked for the call (the
    caller's RNG state is unchanged), from which the head's initialisation, the data order and the
    sampled time steps are drawn in the course's order: a prober seeded ``s`` is the course
    evaluator's prober after ``torch.manual_seed(s)``. The loss curve stops early (its last value
    non-finite) if training diverges.
    """
    n = z.shape[0]
    b = batch_for(n, batch_size)
    total = epochs * full_batches(n, batch_size)
    # The data order comes from a DataLoader over the window indices, as the course's does from
    # its DataLoader: each pass draws its seeds from the global RNG the same way.
    order: DataLoader[int] = DataLoader(range(n), batch_size=b, shuffle=True, drop_last=True)  # type: ignore[arg-type]
    curve: list[float] = []
    step = 0
    with torch.random.fork_rng(devices=[]):  # every draw below is the course's, in its order
        torch.manual_seed(seed)
        next(iter(order))  # the course reads one batch (its shapes) before building the head
        head = make_mlp_head(z.shape[-1], y.shape[-1], hidden).to(device)
        opt = torch.optim.Adam(head.parameters(), lr=lr)
        for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
            losses = []
            for idx in order:
                zb, yb = sample_time_steps(z[idx], y[idx], sample_steps)  # (b, T', D), (b, T', K)
                zb, yb = zb.to(device), yb.to(device)
                for group in opt.param_groups:
                    group["lr"] = lr_at(step, total, lr, b)
                loss = torch.mean((head(zb) - yb) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                losses.append(float(loss.detach()))
            curve.append(sum(losses) / len(losses))
            if not math.isfinite(curve[-1]):
                break
    head.eval()
    return head, curve
