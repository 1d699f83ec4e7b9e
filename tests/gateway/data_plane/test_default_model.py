"""The model a request that names none gets: the caller's first of that type, or a 400 naming `model`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tfy_gateway.gateway.data_plane.default_model import default_model
from tfy_gateway.gateway.data_plane.failures import DataPlaneError


def access(*entries: tuple[str, tuple[str, ...]]) -> Any:
    models = [SimpleNamespace(id=model, model_types=types) for model, types in entries]
    return SimpleNamespace(visible=lambda principal: models)


def test_the_first_visible_model_of_the_type() -> None:
    visible = access(("a/chat", ("chat",)), ("a/mod", ("moderation",)), ("b/mod", ("moderation",)))
    assert default_model(visible, object(), "moderation", "moderations") == "a/mod"  # type: ignore[arg-type]


def test_none_is_a_400_naming_model() -> None:
    with pytest.raises(DataPlaneError) as refused:
        default_model(access(("a/chat", ("chat",))), object(), "moderation", "moderations")  # type: ignore[arg-type]
    assert (refused.value.status, refused.value.param, refused.value.code) == (
        400,
        "model",
        "missing_required_parameter",
    )
