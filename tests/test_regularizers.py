"""The regulariser registry, ``--reg`` parsing, schedules and the objective."""

from __future__ import annotations

import pytest
import torch

from jepa_bench.models.protocol import TrainLatents
from jepa_bench.registry import REGULARIZERS, UnknownNameError
from jepa_bench.regularizers.base import Schedule, prediction_mse
from jepa_bench.regularizers.compose import (
    build_objective,
    build_regularizers,
    describe_reg,
    parse_reg,
)


def _lat(seed: int = 0, b: int = 16, t: int = 3, d: int = 8) -> TrainLatents:
    g = torch.Generator().manual_seed(seed)
    return TrainLatents(
        pred=torch.randn(b, t, d, generator=g),
        target=torch.randn(b, t, d, generator=g),
        emb=torch.randn(b, t + 1, d, generator=g),
    )


def test_builtin_names_registered_with_one_line_help() -> None:
    """vicreg, sigreg, bias_free and none exist, each with a one-line help text."""
    assert {"vicreg", "sigreg", "bias_free", "none"} <= set(REGULARIZERS.names())
    for name in REGULARIZERS.names():
        text = REGULARIZERS.help(name)
        assert text and "\n" not in text, name


def test_parse_reg_grammar() -> None:
    """Parts split on '+', a bare number is the weight, key=value pairs, schedules use ';'."""
    assert parse_reg("sigreg+bias_free") == [("sigreg", {}), ("bias_free", {})]
    assert parse_reg("sigreg:0.5") == [("sigreg", {"weight": 0.5})]
    assert parse_reg(" vicreg : covariance=2, variance=10 ") == [
        ("vicreg", {"covariance": 2, "variance": 10})
    ]
    assert parse_reg("vicreg:invariance=25@0;50@0.8") == [("vicreg", {"invariance": "25@0,50@0.8"})]
    assert parse_reg("sigreg:num_proj=256,seed=3") == [("sigreg", {"num_proj": 256, "seed": 3})]


@pytest.mark.parametrize(
    ("spec", "offending"),
    [
        ("sigreg:abc", "abc"),
        ("sigreg:nan", "nan"),
        ("sigreg+", "sigreg+"),
        ("vicreg:invariance=25@0;x@0.8", "x@0.8"),
        ("vicreg:variance=1,variance=2", "variance"),
        ("vicreg:foo=1", "foo"),
        ("none:0.5", "weight"),
        ("sigreg+sigreg", "twice"),
        ("vicreg:-1", "-1"),
        ("vicreg:invariance=25@1.5", "1.5"),
        (":1", ":1"),
    ],
)
def test_bad_values_raise_value_error_naming_text(spec: str, offending: str) -> None:
    """A malformed spec raises ValueError whose message contains the offending text."""
    with pytest.raises(ValueError) as err:
        build_regularizers(spec)
    assert offending in str(err.value)


def test_unknown_name_lists_known_names() -> None:
    """An unknown name raises the registry's UnknownNameError listing names and a suggestion."""
    with pytest.raises(UnknownNameError) as err:
        build_regularizers("sigrg+bias_free")
    message = str(err.value)
    assert "'sigreg'" in message and "vicreg" in message and "bias_free" in message


def test_weights_per_term_reach_the_regulariser() -> None:
    """``vicreg:covariance=2,variance=10`` scales exactly those terms relative to the defaults."""
    lat = _lat()
    base = build_objective("vicreg")(lat)
    custom = build_objective("vicreg:covariance=2,variance=10")(lat)
    torch.testing.assert_close(custom["vicreg/covariance"], 2 * base["vicreg/covariance"])
    torch.testing.assert_close(custom["vicreg/variance"], 10 / 25 * base["vicreg/variance"])
    torch.testing.assert_close(custom["vicreg/invariance"], base["vicreg/invariance"])


def test_vicreg_schedule_switches_at_stage_start() -> None:
    """``invariance=25@0;50@0.8`` keeps 25 before 80% of training and doubles it from there;
    the other terms are unaffected."""
    lat = _lat()
    obj = build_objective("vicreg:invariance=25@0;50@0.8")
    early, just_before, late = (obj(lat, p) for p in (0.0, 0.79, 0.8))
    torch.testing.assert_close(early["vicreg/invariance"], 25 * prediction_mse(lat))
    torch.testing.assert_close(just_before["vicreg/invariance"], early["vicreg/invariance"])
    torch.testing.assert_close(late["vicreg/invariance"], 2 * early["vicreg/invariance"])
    for key in ("vicreg/variance", "vicreg/covariance"):
        torch.testing.assert_close(late[key], early[key])


def test_schedule_parse_and_config_round_trip() -> None:
    """Schedules parse from numbers, strings and pairs, evaluate piecewise, and round-trip."""
    s = Schedule.parse("50@0.8,25@0")
    assert [s(p) for p in (0.0, 0.5, 0.8, 1.0)] == [25.0, 25.0, 50.0, 50.0]
    assert Schedule.parse(s.to_config()) == s
    assert Schedule.parse(3).to_config() == 3.0
    with pytest.raises(ValueError):
        Schedule([])


def test_objective_keys_and_total() -> None:
    """The total is the sum of the named terms; VICReg replaces the plain prediction term."""
    lat = _lat()
    out = build_objective("sigreg+bias_free", seed=0)(lat)
    assert set(out) == {"prediction", "sigreg/epps_pulley", "loss"}
    torch.testing.assert_close(out["loss"], out["prediction"] + out["sigreg/epps_pulley"])
    assert "prediction" not in build_objective("vicreg")(lat)


def test_none_is_plain_prediction_mse() -> None:
    """With ``none`` the loss is exactly the mean squared prediction error."""
    lat = _lat()
    out = build_objective("none")(lat)
    assert set(out) == {"prediction", "loss"}
    torch.testing.assert_close(out["loss"], ((lat.pred - lat.target) ** 2).mean())


def test_bfloat16_latents_give_float32_terms() -> None:
    """Every term of every regulariser is float32 for bf16 latents (the loss is not rounded)."""
    lat = _lat()
    lat.pred, lat.target, lat.emb = (x.bfloat16() for x in (lat.pred, lat.target, lat.emb))
    for name in REGULARIZERS.names():
        for key, value in build_objective(name, seed=0)(lat).items():
            assert value.dtype == torch.float32, (name, key)


def test_prediction_mse_rejects_shape_mismatch() -> None:
    """pred and target of different shapes raise instead of broadcasting silently."""
    lat = _lat()
    lat.target = lat.target[:, :1]
    with pytest.raises(ValueError, match="differ in shape"):
        prediction_mse(lat)


def test_describe_reg_resolves_every_part_without_touching_rng() -> None:
    """describe_reg lists each part's resolved config (defaults included, the run seed passed
    through) and leaves torch's global RNG as it was."""
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    desc = describe_reg("sigreg+bias_free", seed=7)
    assert torch.equal(torch.rand(1), expected_next)
    assert list(desc) == ["sigreg", "bias_free"]
    assert desc["sigreg"]["weight"] == 0.09 and desc["sigreg"]["seed"] == 7
    assert desc["sigreg"]["num_proj"] == 1024
    assert describe_reg("sigreg:0.5")["sigreg"]["weight"] == 0.5
    vic = describe_reg("vicreg:invariance=25@0;50@0.8")["vicreg"]
    assert vic["invariance"] == [[0.0, 25.0], [0.8, 50.0]]
    assert (vic["variance"], vic["covariance"]) == (25.0, 1.0)
