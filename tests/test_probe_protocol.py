"""The MLP probe's protocol pieces: the course's schedule, drop_last batch counts, time sampling."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.evaluate import mlp_probe
from jepa_bench.evaluate.mlp_probe import (
    batch_for,
    full_batches,
    lr_at,
    sample_time_steps,
    scheduled_lr,
    scored_windows,
    train_mlp_probe,
)

CPU = torch.device("cpu")


def test_schedule_at_known_steps():
    """Default wall_door probe (31 batches x 20 epochs): warm-up to 62, cosine, 1e-3 floor."""
    total, peak = 620, 2e-4 * 64 / 256
    assert scheduled_lr(0, total, peak) == 0.0
    assert scheduled_lr(31, total, peak) == pytest.approx(peak / 2)
    assert scheduled_lr(62, total, peak) == pytest.approx(peak)
    assert scheduled_lr(62 + 279, total, peak) == pytest.approx(peak * (0.5 + 0.5e-3))
    assert scheduled_lr(total, total, peak) == pytest.approx(peak * 1e-3)


def test_lr_at_runs_step_zero_unscaled_then_lags_one_step():
    """Step 0 trains at the unscaled lr; step k at the schedule's value after step k - 1."""
    total, lr, batch = 620, 2e-4, 64
    assert lr_at(0, total, lr, batch) == lr
    assert lr_at(1, total, lr, batch) == 0.0
    assert lr_at(63, total, lr, batch) == pytest.approx(lr * batch / 256)
    for step in (2, 100, 619):
        assert lr_at(step, total, lr, batch) == scheduled_lr(step - 1, total, lr * batch / 256)


def test_schedule_without_warmup_steps():
    """Fewer than 10 steps: no warm-up (int(0.1 * total) = 0), the cosine starts at the peak."""
    assert scheduled_lr(0, 5, 1.0) == 1.0
    assert scheduled_lr(5, 5, 1.0) == pytest.approx(1e-3)


@given(st.integers(1, 2000), st.floats(1e-6, 1.0))
def test_schedule_shape(total, peak):
    """Warm-up never decreases, the cosine never increases, values stay in [0, peak]."""
    lrs = [scheduled_lr(s, total, peak) for s in range(total + 1)]
    warmup = int(0.1 * total)
    assert all(0.0 <= v <= peak * (1 + 1e-12) for v in lrs)
    assert all(a <= b for a, b in zip(lrs[: warmup + 1], lrs[1 : warmup + 1], strict=False))
    assert all(a >= b for a, b in zip(lrs[warmup:], lrs[warmup + 1 :], strict=False))
    assert all(v >= peak * 1e-3 * (1 - 1e-9) for v in lrs[warmup:])


def test_drop_last_counts_of_the_default_budget():
    """Batches of 64: 2000 -> 31, 1000 -> 15 training batches; 500 -> 448, 250 -> 192 scored."""
    assert full_batches(2000, 64) == 31 and full_batches(1000, 64) == 15
    assert scored_windows(500, 64) == 448 and scored_windows(250, 64) == 192
    assert scored_windows(2000, 2000) == 2000


def test_split_smaller_than_a_batch_is_one_batch():
    """A split of fewer windows than a batch (smoke budget) is one whole batch."""
    assert batch_for(32, 64) == 32 and full_batches(32, 64) == 1 and scored_windows(32, 64) == 32
    with pytest.raises(ValueError, match="n >= 1"):
        batch_for(0, 64)


@given(st.integers(1, 5000), st.integers(1, 512))
def test_scored_windows_drop_less_than_a_batch(n, batch):
    """Scored windows: whole batches only, at most n, fewer than one batch left out."""
    m, b = scored_windows(n, batch), batch_for(n, batch)
    assert m % b == 0 and m <= n and n - m < b


def test_training_steps_and_rates(monkeypatch):
    """train_mlp_probe takes epochs * (n // batch) steps, each at lr_at of its step."""
    seen: list[tuple[int, int, float]] = []

    def spy(step: int, total: int, lr: float, batch: int) -> float:
        seen.append((step, total, lr))
        return lr_at(step, total, lr, batch)

    monkeypatch.setattr(mlp_probe, "lr_at", spy)
    z, y = torch.randn(70, 4, 3), torch.randn(70, 4, 2)
    _, curve = train_mlp_probe(z, y, hidden=8, epochs=3, batch_size=16, lr=1e-3, seed=0, device=CPU)
    assert len(curve) == 3
    assert [s for s, _, _ in seen] == list(range(12))  # 70 // 16 = 4 batches per epoch
    assert {(t, lr) for _, t, lr in seen} == {(12, 1e-3)}


def test_seed_changes_init_and_order_only_through_the_seed():
    """The same seed gives the same head; another seed another one."""
    z, y = torch.randn(40, 3, 4), torch.randn(40, 3, 2)
    kw = dict(hidden=8, epochs=2, batch_size=8, lr=1e-2, device=CPU)
    a, ca = train_mlp_probe(z, y, seed=1, **kw)
    b, cb = train_mlp_probe(z, y, seed=1, **kw)
    c, cc = train_mlp_probe(z, y, seed=2, **kw)
    assert ca == cb and ca != cc
    assert torch.equal(a(z), b(z)) and not torch.equal(a(z), c(z))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_sampled_steps_are_distinct_and_aligned(b, t, seed):
    """k distinct time steps per window, the same ones for latents and targets; short: whole."""
    k = 30
    steps = torch.arange(t, dtype=torch.float32)[None, :, None].expand(b, t, 1)
    z = torch.cat([steps, torch.randn(b, t, 2)], -1)
    y = steps * 10
    torch.manual_seed(seed)
    zs, ys = sample_time_steps(z, y, k)
    assert zs.shape[1] == min(k, t) and torch.equal(ys, zs[..., :1] * 10)
    for row in zs[..., 0]:
        assert len(set(row.tolist())) == zs.shape[1]
    assert sample_time_steps(z, y, None)[0] is z
    assert not math.isnan(float(zs.sum()))


def course_order_prober(z, y, *, hidden, epochs, batch, lr, seed, k):
    """The course evaluator's training loop, restated from its description (docs/probe_protocol.md):
    manual_seed, a shuffled drop_last DataLoader read once before the head is built, Prober
    Linear-ReLU-Linear, per-window randperm time sampling, Adam with the lagged schedule."""
    torch.manual_seed(seed)
    ds = torch.utils.data.TensorDataset(z, y)
    loader = torch.utils.data.DataLoader(ds, batch, shuffle=True, drop_last=True)
    next(iter(loader))
    head = torch.nn.Sequential(
        torch.nn.Linear(z.shape[-1], hidden), torch.nn.ReLU(True), torch.nn.Linear(hidden, 2)
    )
    opt = torch.optim.Adam(head.parameters(), lr)
    total, step = epochs * len(loader), 0
    for _ in range(epochs):
        for zb, yb in loader:
            t = zb.shape[1]
            if k < t:
                zs, ys = torch.empty(len(zb), k, zb.shape[-1]), torch.empty(len(zb), k, 2)
                for i in range(len(zb)):
                    idx = torch.randperm(t)[:k]
                    zs[i], ys[i] = zb[i, idx], yb[i, idx]
                zb, yb = zs, ys
            loss = ((head(zb) - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            for g in opt.param_groups:  # the schedule is applied after the step
                g["lr"] = mlp_probe.scheduled_lr(step, total, lr * batch / 256)
            step += 1
    return head


@pytest.mark.parametrize("t", [5, 9])  # 9 > k: time steps sampled, as on the expert split
def test_a_prober_seed_is_the_course_run_after_manual_seed(t):
    """Seed s gives the head the course's loop gives after torch.manual_seed(s), to float noise;
    the caller's global RNG state is left as it was."""
    z, y = torch.randn(70, t, 6), torch.randn(70, t, 2)
    kw = dict(hidden=16, epochs=3, lr=1e-3, seed=11)
    torch.manual_seed(99)
    state = torch.get_rng_state()
    ours, _ = train_mlp_probe(
        z, y, batch_size=16, device=CPU, sample_steps=7, hidden=16, epochs=3, lr=1e-3, seed=11
    )
    assert torch.equal(torch.get_rng_state(), state)
    ref = course_order_prober(z, y, batch=16, k=7, **kw)
    torch.set_rng_state(state)
    other, _ = train_mlp_probe(
        z, y, batch_size=16, device=CPU, sample_steps=7, hidden=16, epochs=3, lr=1e-3, seed=12
    )
    with torch.no_grad():
        assert torch.allclose(ours(z), ref(z), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(other(z), ref(z), rtol=1e-3, atol=1e-4)
