"""Registry behaviour: registration, lazy entries, helpful unknown-name errors."""

import pytest

from jepa_bench.registry import (
    MODELS,
    REGULARIZERS,
    TASKS,
    Registry,
    UnknownNameError,
)


def test_duplicate_name_is_an_error():
    """Registering two different factories under one name fails."""
    reg = Registry("thing")
    reg.add("a", lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", lambda: 2)


def test_unknown_name_lists_names_and_nearest_match():
    """An unknown name names every known entry and suggests the closest one."""
    reg = Registry("model")
    for name in ("convnext_mlp", "lewm", "lewm_cpu"):
        reg.add(name, lambda: None)
    with pytest.raises(UnknownNameError) as err:
        reg.get("convnex_mlp")
    msg = str(err.value)
    assert "Did you mean 'convnext_mlp'" in msg
    assert "convnext_mlp, lewm, lewm_cpu" in msg


def test_lazy_entry_is_imported_on_first_get():
    """A "module:attr" entry resolves to the attribute on first use."""
    reg = Registry("thing")
    reg.add("join", "os.path:join")
    import os.path

    assert reg.get("join") is os.path.join


def test_builtins_are_registered():
    """The built-in models, tasks and regularisers are all listed."""
    assert {"convnext_mlp", "convnext_mlp_smoke", "lewm", "lewm_cpu", "lewm_smoke"} <= set(MODELS)
    assert "wall_door" in TASKS
    assert {"vicreg", "sigreg", "bias_free", "none"} <= set(REGULARIZERS)
