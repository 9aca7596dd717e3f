"""The lewm family: shapes, parameter counts, AdaLN-zero, causality, rollout and bf16."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_bench.data.base import TaskSpec
from jepa_bench.models.lewm import LEWM as lewm
from jepa_bench.models.lewm import LEWM_CPU as lewm_cpu
from jepa_bench.models.lewm import LEWM_SMOKE as lewm_smoke
from jepa_bench.models.lewm import LeWM
from jepa_bench.models.lewm.adapters import IMAGENET_MEAN, ImageAdapter
from jepa_bench.models.protocol import WorldModel
from jepa_bench.registry import MODELS

WALL = TaskSpec("wall_door", "test", (2, 65, 65), 2, 17)
ROBOT = TaskSpec("robot", "test", (3, 224, 224), 30, 4)
SMALL_SIZES = {"lewm_smoke": lewm_smoke, "lewm_cpu": lewm_cpu}


def wall_batch(b: int = 2, t: int = 17, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, t, 2, 65, 65, generator=g), torch.randn(b, t - 1, 2, generator=g)


def activate_adaln(model: LeWM, seed: int = 0, std: float = 0.05) -> LeWM:
    """Give the zero-initialised AdaLN layers random weights so attention and actions matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in model.predictor.blocks:
            lin = block.ada[-1]
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=g) * std)
            lin.bias.copy_(torch.randn(lin.bias.shape, generator=g) * std)
    return model


def loss_of(model: LeWM, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    lat = model.train_latents(obs, actions)
    return ((lat.pred - lat.target) ** 2).mean() + lat.emb.pow(2).mean()


def grads_by_part(model: LeWM) -> dict[str, float]:
    return {
        name: sum(float(p.grad.abs().sum()) for p in part.parameters() if p.grad is not None)
        for name, part in model.param_groups().items()
    }


def test_registered_factories_build_protocol_models() -> None:
    """Every lewm size resolves through the registry and satisfies the WorldModel protocol."""
    for name in ("lewm_smoke", "lewm_cpu"):
        model = MODELS.get(name)(WALL)
        assert isinstance(model, LeWM) and isinstance(model, WorldModel)
        preset = MODELS.get(name)
        assert set(preset.train) >= {"optimizer", "lr", "weight_decay", "grad_clip"}
        assert set(preset.budgets) == {"smoke", "default", "full"}
    assert MODELS.get("lewm") is lewm
    assert lewm.reg == "sigreg:0.09" and lewm.train["lr"] == 5e-5  # LeWM's published settings


def test_reference_parameter_count_and_breakdown() -> None:
    """The reference size counts 18.0 M (+-3%) parameters, split as in the published weights."""
    counts = lewm(ROBOT).param_breakdown()
    assert abs(counts["total"] / 18.0e6 - 1) < 0.03
    expected = {"encoder": 5.5e6, "predictor": 10.8e6, "projector": 1.6e6, "action_encoder": 0.16e6}
    for part, n in expected.items():
        assert abs(counts[part] / n - 1) < 0.05, (part, counts[part])
    assert sum(counts[p] for p in expected) == counts["total"]  # parts are disjoint and complete


def test_reference_forward_backward_small_batch() -> None:
    """Reference size on (2, 4, 3, 224, 224): shapes, finite outputs, gradients in every part."""
    torch.manual_seed(0)
    model = lewm(ROBOT).train()
    obs, actions = torch.rand(2, 4, 3, 224, 224), torch.randn(2, 3, 30)
    lat = model.train_latents(obs, actions)
    assert lat.pred.shape == lat.target.shape == (2, 3, 192) and lat.emb.shape == (2, 4, 192)
    assert model.repr_dim == 192 and torch.isfinite(lat.pred).all()
    loss = ((lat.pred - lat.target) ** 2).mean() + lat.emb.pow(2).mean()
    loss.backward()
    grads = grads_by_part(model)
    assert all(g > 0 for name, g in grads.items() if name != "action_encoder"), grads
    assert grads["action_encoder"] == 0.0  # AdaLN-zero: actions are gated off at initialisation


@pytest.mark.parametrize("name", sorted(SMALL_SIZES))
def test_small_sizes_on_wall_door(name: str) -> None:
    """Smoke and cpu sizes on wall_door windows: every protocol method gives the right shapes."""
    torch.manual_seed(0)
    model = SMALL_SIZES[name](WALL)
    obs, actions = wall_batch(3)
    lat = model.train_latents(obs, actions)
    d = model.repr_dim
    assert lat.pred.shape == lat.target.shape == (3, 16, d) and lat.emb.shape == (3, 17, d)
    assert torch.isfinite(lat.pred).all() and torch.isfinite(lat.emb).all()
    model.eval()
    assert model.encode(obs).shape == (3, 17, d)
    for k in (1, 3, 5):
        assert model.predict(lat.emb[:, :k], actions[:, :k]).shape == (3, d)
    assert model.rollout(obs[:, 0], actions).shape == (3, 17, d)


@pytest.mark.parametrize("name", sorted(SMALL_SIZES))
def test_every_parameter_learns_after_one_step(name: str) -> None:
    """After one optimizer step the gates open and every parameter tensor receives gradient; a
    residual predictor (lewm_cpu on wall_door) needs one step more, since its zero-initialised
    output layer sits in series with AdaLN-zero's gates."""
    torch.manual_seed(0)
    model = SMALL_SIZES[name](WALL).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    obs, actions = wall_batch(4)
    for _ in range(2 if model.residual else 1):
        loss_of(model, obs, actions).backward()
        opt.step()
        opt.zero_grad()
    loss_of(model, obs, actions).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead


def test_adaln_zero_actions_have_no_effect_at_init_then_do() -> None:
    """At init predict() ignores actions; one optimizer step later it depends on them."""
    torch.manual_seed(0)
    model = lewm_smoke(WALL)
    obs, actions = wall_batch(4)
    hist = torch.randn(4, 3, model.repr_dim)
    a1, a2 = torch.randn(4, 3, 2), torch.randn(4, 3, 2) * 3
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.predict(hist, a1), model.predict(hist, a2))
        assert torch.equal(model.rollout(obs[:, 0], actions), model.rollout(obs[:, 0], -actions))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss_of(model, obs, actions).backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        diff = (model.predict(hist, a1) - model.predict(hist, a2)).abs().max()
    assert diff > 1e-5


def test_nan_actions_count_as_zero() -> None:
    """NaN actions (sequence ends) are treated as zero actions."""
    model = activate_adaln(lewm_smoke(WALL)).eval()
    hist, actions = torch.randn(2, 3, model.repr_dim), torch.randn(2, 3, 2)
    actions[0, 1] = float("nan")
    zeroed = actions.nan_to_num(0.0)
    with torch.no_grad():
        out = model.predict(hist, actions)
        assert torch.isfinite(out).all() and torch.equal(out, model.predict(hist, zeroed))


@pytest.mark.parametrize("name", sorted(SMALL_SIZES))
def test_prediction_for_step_t_ignores_later_frames(name: str) -> None:
    """train_latents' prediction for step t is unchanged when frames/actions from t on change."""
    model = activate_adaln(SMALL_SIZES[name](WALL)).eval()
    obs, actions = wall_batch(2)
    with torch.no_grad():
        p1 = model.train_latents(obs, actions).pred  # p1[:, t - 1] predicts step t
        for t in (2, 3, 9):  # inside the first window, at its edge, and a later sliding window
            obs2, actions2 = wall_batch(2, seed=t)
            obs2[:, :t], actions2[:, : t - 1] = obs[:, :t], actions[:, : t - 1]
            p2 = model.train_latents(obs2, actions2).pred
            torch.testing.assert_close(p1[:, : t - 1], p2[:, : t - 1], rtol=1e-5, atol=1e-5)
            assert not torch.allclose(p1[:, t - 1 :], p2[:, t - 1 :])


@settings(max_examples=12, deadline=None)
@given(t=st.integers(2, 9), history=st.integers(1, 4), seed=st.integers(0, 1000))
def test_teacher_forcing_matches_predict_windows(t: int, history: int, seed: int) -> None:
    """Each training prediction equals predict() on the last history_size encoded frames."""
    torch.manual_seed(seed)
    spec = TaskSpec("wall_door", "test", (2, 65, 65), 2, t)
    model = activate_adaln(lewm_smoke(spec, history_size=history), seed=seed).eval()
    obs, actions = wall_batch(2, t, seed)
    with torch.no_grad():
        lat = model.train_latents(obs, actions)
        for step in range(1, t):
            lo = max(0, step - history)
            want = model.predict(lat.emb[:, lo:step], actions[:, lo:step])
            torch.testing.assert_close(lat.pred[:, step - 1], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("history", [1, 3])
def test_rollout_training_predicts_what_rollout_evaluates(history: int) -> None:
    """train_mode="rollout": predictions are the evaluation's rollout from the first frame (its
    steps 1..T-1), targets the encoded frames; "teacher" differs once predictions feed back."""
    model = activate_adaln(lewm_smoke(WALL, history_size=history, train_mode="rollout")).eval()
    obs, actions = wall_batch(2)
    with torch.no_grad():
        lat = model.train_latents(obs, actions)
        torch.testing.assert_close(lat.pred, model.rollout(obs[:, 0], actions)[:, 1:])
        torch.testing.assert_close(lat.target, model.encode(obs)[:, 1:])
        model.train_mode = "teacher"
        teacher = model.train_latents(obs, actions).pred
    torch.testing.assert_close(teacher[:, 0], lat.pred[:, 0])  # step 1 sees only the frame
    assert not torch.allclose(teacher[:, 5:], lat.pred[:, 5:])
    with pytest.raises(ValueError, match="train_mode"):
        lewm_smoke(WALL, train_mode="free")


def test_rollout_uses_only_first_frame_and_past_actions() -> None:
    """rollout starts at encode(obs0), is its own recurrent predict loop, and ignores the future."""
    model = activate_adaln(lewm_smoke(WALL)).eval()
    obs, actions = wall_batch(2)
    obs_other, _ = wall_batch(2, seed=5)
    obs_other[:, 0] = obs[:, 0]  # same first frame, different later frames
    with torch.no_grad():
        roll = model.rollout(obs[:, 0], actions)
        torch.testing.assert_close(roll, model.rollout(obs_other[:, 0], actions))
        torch.testing.assert_close(roll[:, 0], model.encode(obs[:, :1])[:, 0])
        zs = [roll[:, 0]]
        for step in range(16):
            lo = max(0, step + 1 - model.history_size)
            zs.append(model.predict(torch.stack(zs[lo:], 1), actions[:, lo : step + 1]))
        torch.testing.assert_close(roll, torch.stack(zs, 1), rtol=1e-5, atol=1e-5)
        changed = actions.clone()
        changed[:, 9:] += 1.0
        roll2 = model.rollout(obs[:, 0], changed)
    torch.testing.assert_close(roll[:, :10], roll2[:, :10])
    assert not torch.allclose(roll[:, 10:], roll2[:, 10:])


@pytest.mark.parametrize("name", sorted(SMALL_SIZES))
def test_bf16_autocast_is_finite_and_close_to_fp32(name: str) -> None:
    """Under CPU bf16 autocast the forward is finite and within bf16 error of fp32."""
    model = activate_adaln(SMALL_SIZES[name](WALL)).eval()
    obs, actions = wall_batch(2)
    with torch.no_grad():
        ref = model.train_latents(obs, actions)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.train_latents(obs, actions)
    for a, b in ((ref.emb, low.emb), (ref.pred, low.pred)):
        assert torch.isfinite(b).all()
        assert float((a - b.float()).norm() / a.norm()) < 0.05
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lat = model.train_latents(obs, actions)
        loss = ((lat.pred.float() - lat.target.float()) ** 2).mean()
    loss.backward()
    assert torch.isfinite(loss) and all(
        torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None
    )


def test_adapter_resizes_and_normalises() -> None:
    """RGB frames use ImageNet statistics, other channel counts 0.5/0.5; any size is resized."""
    rgb = ImageAdapter(3, 32)
    frame = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(2, 3, 48, 80)
    out = rgb(frame)
    assert out.shape == (2, 3, 32, 32) and out.abs().max() < 1e-5
    two = ImageAdapter(2, 65)
    torch.testing.assert_close(two(torch.ones(1, 2, 65, 65)), torch.ones(1, 2, 65, 65))
    custom = ImageAdapter(2, 65, mean=(0.1, 0.2), std=(0.5, 0.25))
    torch.testing.assert_close(
        custom(torch.full((1, 2, 65, 65), 0.2))[0, :, 0, 0], torch.tensor([0.2, 0.0])
    )


def test_param_groups_partition_the_model() -> None:
    """param_groups names encoder/predictor/projector/action_encoder and covers every parameter."""
    model = lewm_cpu(WALL)
    groups = model.param_groups()
    assert set(groups) == {"encoder", "predictor", "projector", "action_encoder"}
    ids = [id(p) for m in groups.values() for p in m.parameters()]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_bad_inputs_raise_clear_errors() -> None:
    """Wrong channel counts, action sizes, NaN frames and bad stats are rejected with a message."""
    model = lewm_smoke(WALL).eval()
    obs, actions = wall_batch(2, 4)
    with pytest.raises(ValueError, match="obs of shape"):
        model.encode(torch.rand(2, 4, 3, 65, 65))
    with pytest.raises(ValueError, match="actions of shape"):
        model.train_latents(obs, torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="actions of shape"):
        model.train_latents(obs, torch.randn(2, 4, 2))
    with pytest.raises(ValueError, match="history of shape"):
        model.predict(torch.randn(2, 3, model.repr_dim + 1), torch.randn(2, 3, 2))
    bad = obs.clone()
    bad[0, 1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.encode(bad)
    with pytest.raises(ValueError, match="stats need 2 values"):
        lewm_smoke(WALL, norm_mean=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="multiple of patch size"):
        lewm_smoke(WALL, image_size=30)


def test_sincos_positions_are_distinct_bounded_and_separable() -> None:
    """The 2-D table gives every patch its own position, x and y in separate halves."""
    from jepa_bench.models.lewm.vit import sincos_2d

    grid, dim = 5, 32
    table = sincos_2d(grid, dim)
    assert table.shape == (grid * grid, dim) and table.abs().max() <= 1.0
    assert torch.cdist(table, table).add(torch.eye(grid * grid) * 9).min() > 0.1
    rows = table.view(grid, grid, dim)
    assert torch.equal(rows[0, :, : dim // 2], rows[3, :, : dim // 2])  # x half ignores the row
    assert torch.equal(rows[:, 1, dim // 2 :], rows[:, 4, dim // 2 :])  # y half ignores the column
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(grid, 30)


def test_pos_init_sincos_starts_from_the_table_and_stays_learned() -> None:
    from jepa_bench.models.lewm.vit import sincos_2d

    model = lewm_cpu(WALL, pos_init="sincos")
    pos = model.vit.pos_embed
    assert pos.requires_grad
    assert torch.equal(pos[0, 0], torch.zeros_like(pos[0, 0]))  # the CLS slot
    torch.testing.assert_close(pos[0, 1:], sincos_2d(5, pos.shape[-1]))
    assert float(lewm_cpu(WALL, pos_init="normal").vit.pos_embed.detach().std()) < 0.03  # std 0.02
    with pytest.raises(ValueError, match="pos_init"):
        lewm_cpu(WALL, pos_init="fourier")


GROUPED = TaskSpec(
    "wall_door",
    "test",
    (2, 65, 65),
    2,
    17,
    channel_groups={"agent": (0,), "wall": (1,)},
    static_groups=("wall",),
)


@pytest.mark.parametrize("pool", ["cls", "mean", "flatten", "max", "attention"])
def test_every_pool_gives_latents_of_repr_dim(pool: str) -> None:
    model = lewm_smoke(GROUPED, pool=pool, branches=True).eval()
    obs, act = wall_batch(2, 5)
    assert model.encode(obs).shape == (2, 5, model.repr_dim)
    assert model.rollout(obs[:, 0], act[:, :4]).shape == (2, 5, model.repr_dim)
    with pytest.raises(ValueError, match="pool must be"):
        lewm_smoke(WALL, pool="sum")


def test_branches_encode_each_channel_group_with_its_own_vit() -> None:
    """The agent's ViT never sees the wall channel; the static wall is read from frame 0 only."""
    model = lewm_smoke(GROUPED, branches=True).eval()
    assert model.branches is not None and set(model.branches.vits) == {"agent", "wall"}
    obs, _ = wall_batch(2, 5)
    with torch.no_grad():
        base = model.encode(obs)
        later_wall = obs.clone()
        later_wall[:, 1:, 1] = torch.rand_like(later_wall[:, 1:, 1])  # the wall after frame 0
        torch.testing.assert_close(model.encode(later_wall), base)
        moved = obs.clone()
        moved[:, :, 0] = torch.roll(moved[:, :, 0], 7, dims=-1)  # the agent channel
        assert not torch.allclose(model.encode(moved), base)
        br = model.branches
        feats = br.vits["agent"](br.adapters["agent"](obs[:, :, :1].flatten(0, 1)))
        wall = br.vits["wall"](br.adapters["wall"](obs[:, :1, 1:].flatten(0, 1)))
        summed = feats.view(2, 5, -1) + wall.view(2, 1, -1)
        torch.testing.assert_close(model.encode(obs), model.projector(summed))


def test_one_channel_group_keeps_the_single_vit_layout() -> None:
    """Without groups (or with branches off) the parameters are LeWM's own, as before."""
    names = set(lewm_smoke(GROUPED).state_dict())
    assert names == set(lewm_smoke(WALL, branches=True).state_dict())
    assert any(n.startswith("vit.") for n in names) and not any("branches" in n for n in names)


def test_detach_target_stops_the_gradient_through_the_targets_only() -> None:
    model = lewm_smoke(GROUPED, branches=True, detach_target=True).train()
    obs, act = wall_batch(2, 5)
    lat = model.train_latents(obs, act[:, :4])
    assert not lat.target.requires_grad and lat.pred.requires_grad and lat.emb.requires_grad
    torch.testing.assert_close(lat.target, lat.emb[:, 1:].detach())


def test_fuse_concat_gives_each_group_its_own_share_of_the_latent() -> None:
    """With fuse="concat" the agent's dimensions depend on the agent channel alone, and so on."""
    model = lewm_smoke(GROUPED, branches=True, fuse="concat", embed_dim=9).eval()
    assert model.repr_dim == 9
    obs, act = wall_batch(2, 5)
    with torch.no_grad():
        base = model.encode(obs)
        assert base.shape == (2, 5, 9)
        moved = obs.clone()
        moved[:, :, 0] = torch.roll(moved[:, :, 0], 7, dims=-1)  # the agent channel only
        after = model.encode(moved)
        torch.testing.assert_close(after[..., 5:], base[..., 5:])  # the wall's 4 dimensions
        assert not torch.allclose(after[..., :5], base[..., :5])  # the agent's 5 (first first)
        walled = obs.clone()
        walled[:, :, 1] = torch.rand_like(walled[:, :, 1])
        after = model.encode(walled)
        torch.testing.assert_close(after[..., :5], base[..., :5])
        assert not torch.allclose(after[..., 5:], base[..., 5:])
        assert model.rollout(obs[:, 0], act[:, :4]).shape == (2, 5, 9)
    with pytest.raises(ValueError, match="fuse must be"):
        lewm_smoke(GROUPED, branches=True, fuse="max")


@settings(max_examples=50, deadline=None)
@given(total=st.integers(1, 512), n=st.integers(1, 6))
def test_split_dims_shares_every_dimension_out_evenly(total: int, n: int) -> None:
    from jepa_bench.models.lewm.branches import split_dims

    names = [f"g{i}" for i in range(n)]
    if total < n:
        with pytest.raises(ValueError, match="smaller than"):
            split_dims(total, names)
        return
    dims = split_dims(total, names)
    assert list(dims) == names and sum(dims.values()) == total
    assert max(dims.values()) - min(dims.values()) <= 1
    assert list(dims.values()) == sorted(dims.values(), reverse=True)


@pytest.mark.parametrize(("size", "patch"), [(65, 13), (32, 8), (224, 14)])
def test_conv_stem_makes_the_patch_convolutions_token_grid(size: int, patch: int) -> None:
    """stem="conv" gives the same (N, dim, G, G) tokens as the patch convolution, G = S // patch."""
    from jepa_bench.models.lewm.vit import ViTEncoder

    x = torch.rand(2, 3, size, size)
    shapes = {
        stem: ViTEncoder(3, size, patch, 16, 1, 2, 32, stem=stem).patch_embed(x).shape
        for stem in ("patch", "conv")
    }
    assert shapes["conv"] == shapes["patch"] == (2, 16, size // patch, size // patch)


def test_conv_stem_lewm_trains_end_to_end() -> None:
    """With stem="conv" every branch's stem gets gradients and the protocol's shapes hold."""
    model = lewm_smoke(GROUPED, branches=True, stem="conv").train()
    obs, act = wall_batch(2, 5)
    loss_of(model, obs, act[:, :4]).backward()
    assert model.branches is not None
    for vit in model.branches.vits.values():
        stem_grads = [p.grad for p in vit.patch_embed.parameters()]
        assert all(g is not None and float(g.abs().sum()) > 0 for g in stem_grads)
    model.eval()
    assert model.rollout(obs[:, 0], act[:, :4]).shape == (2, 5, model.repr_dim)
    with pytest.raises(ValueError, match="stem must be"):
        lewm_smoke(WALL, stem="hybrid")


def test_attention_pool_mixes_values_by_attention() -> None:
    """Identical tokens pool to their own value; a token the query matches takes the most."""
    from jepa_bench.models.lewm.vit import AttentionPool

    torch.manual_seed(0)
    pool = AttentionPool(8, 2)
    tok = torch.randn(1, 1, 8)
    value = pool.proj(pool.kv(tok).chunk(2, dim=-1)[1])[:, 0]
    torch.testing.assert_close(pool(tok.expand(3, 5, 8)), value.expand(3, 8))
    pool = AttentionPool(8, 1)
    with torch.no_grad():  # keys = tokens, query = a big multiple of token 2: it dominates
        pool.kv.weight.copy_(torch.cat([torch.eye(8), torch.eye(8)]))
        pool.kv.bias.zero_()
        tokens = torch.randn(1, 4, 8)
        tokens = tokens / tokens.norm(dim=-1, keepdim=True)
        pool.query.copy_(40 * tokens[:, 2:3])
    torch.testing.assert_close(pool(tokens), pool.proj(tokens[:, 2]), atol=1e-2, rtol=0)


def test_max_pool_is_the_per_feature_maximum_over_patches() -> None:
    from jepa_bench.models.lewm.vit import ViTEncoder

    vit = ViTEncoder(1, 16, 8, 8, 1, 2, 16, pool="max").eval()
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        p = vit.patch_embed(x).flatten(2).transpose(1, 2)
        h = torch.cat([vit.cls_token.expand(2, -1, -1), p], 1) + vit.pos_embed
        for block in vit.blocks:
            h = block(h)
        torch.testing.assert_close(vit(x), vit.norm(h[:, 1:]).amax(1))
