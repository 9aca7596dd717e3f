"""convnext_mlp: reference size, shapes, the static-branch shortcut and the protocol."""

import pytest
import torch

from jepa_bench.models.convnext_mlp import CONVNEXT_MLP_SMOKE as convnext_mlp_smoke
from jepa_bench.models.convnext_mlp import ConvNeXtMLP
from jepa_bench.models.params import param_counts
from jepa_bench.models.protocol import WorldModel
from tests.helpers import WALL_DOOR_LIKE


def test_reference_size_counts_293344_parameters():
    """The default size matches the reference: encoder 159,712 + predictor 133,632."""
    counts = param_counts(ConvNeXtMLP(WALL_DOOR_LIKE))
    assert counts["encoder"] == 159_712
    assert counts["predictor"] == 133_632
    assert counts["total"] == 293_344


def test_static_group_encoded_once_equals_per_frame():
    """Encoding the constant wall once per window gives the same latents as per frame."""
    torch.manual_seed(0)
    fast = convnext_mlp_smoke(WALL_DOOR_LIKE).eval()
    slow = convnext_mlp_smoke(WALL_DOOR_LIKE, encode_static_once=False, channels_last=False).eval()
    slow.load_state_dict(fast.state_dict())
    obs = torch.rand(2, 4, 2, 65, 65)
    obs[:, :, 1] = obs[:, :1, 1]  # wall constant in time
    assert torch.allclose(fast.encode(obs), slow.encode(obs), atol=1e-5)


def test_rollout_sees_only_the_first_observation():
    """Rollout output depends on obs0 and actions, and starts at the encoded obs0."""
    torch.manual_seed(0)
    m = convnext_mlp_smoke(WALL_DOOR_LIKE).eval()
    assert isinstance(m, WorldModel)
    obs = torch.rand(3, 5, 2, 65, 65)
    act = torch.randn(3, 4, 2)
    z = m.rollout(obs[:, 0], act)
    assert z.shape == (3, 5, m.repr_dim)
    assert torch.allclose(z[:, 0], m.encode(obs[:, :1])[:, 0], atol=1e-6)
    act2 = act.clone()
    act2[:, 2] += 1.0
    z2 = m.rollout(obs[:, 0], act2)
    assert torch.allclose(z[:, :3], z2[:, :3]) and not torch.allclose(z[:, 3:], z2[:, 3:])


@pytest.mark.parametrize(("every", "t", "kept"), [(1, 5, 5), (2, 5, 3), (2, 6, 3), (4, 17, 5)])
def test_every_kth_target_is_the_whole_rollout_subsampled(every, t, kept):
    """target_every=k: targets are frames 0, k, 2k, ... encoded; predictions are the full
    recurrent rollout at those steps; the first prediction is the first target."""
    torch.manual_seed(0)
    full = convnext_mlp_smoke(WALL_DOOR_LIKE).eval()
    sub = convnext_mlp_smoke(WALL_DOOR_LIKE, target_every=every).eval()
    sub.load_state_dict(full.state_dict())
    obs, act = torch.rand(2, t, 2, 65, 65), torch.randn(2, t - 1, 2)
    lat, ref = sub.train_latents(obs, act), full.train_latents(obs, act)
    assert lat.pred.shape == lat.target.shape == (2, kept, sub.repr_dim)
    assert torch.allclose(lat.target, ref.target[:, ::every], atol=1e-5)
    assert torch.allclose(lat.pred, ref.pred[:, ::every], atol=1e-5)
    assert torch.equal(lat.pred[:, 0], lat.target[:, 0])


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_target_every_must_be_a_positive_integer(bad):
    """target_every outside the integers >= 1 is a ValueError naming it."""
    with pytest.raises(ValueError, match="target_every"):
        ConvNeXtMLP(WALL_DOOR_LIKE, target_every=bad)


def test_chunked_encoding_equals_one_pass():
    """Encoding in memory-bounded chunks gives the same latents and gradients as one pass."""
    torch.manual_seed(0)
    chunked = convnext_mlp_smoke(WALL_DOOR_LIKE, chunk_bytes=40_000)  # a few frames per chunk
    whole = convnext_mlp_smoke(WALL_DOOR_LIKE, chunk_bytes=0)
    whole.load_state_dict(chunked.state_dict())
    chunked.eval(), whole.eval()
    obs = torch.rand(3, 5, 2, 65, 65)
    za, zb = chunked.encode(obs), whole.encode(obs)
    assert torch.allclose(za, zb, atol=1e-5)
    za.sum().backward()
    zb.sum().backward()
    for (name, pa), pb in zip(chunked.branches.named_parameters(), whole.branches.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-4), name


def test_tune_malloc_is_idempotent():
    """The allocator tuning succeeds on glibc and can be called twice."""
    import sys

    from jepa_bench.train.memory import tune_malloc

    first, second = tune_malloc(), tune_malloc()
    assert first == second
    if sys.platform.startswith("linux"):
        assert first
