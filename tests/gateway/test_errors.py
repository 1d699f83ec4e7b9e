"""One error hierarchy: every exception class of the gateway sits under `GatewayError`, in one branch.

The classes are found by importing every module of the gateway package, so an exception added
anywhere outside the tree fails here. Errors that callers catch as `ValueError` (or `RuntimeError`)
still are one.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import tfy_gateway.gateway as gateway_package
from tfy_gateway.gateway.errors import (
    ApiError,
    ConfigError,
    GatewayError,
    RemoteError,
    RequestError,
    StateError,
    error_body,
)

BRANCHES = (ApiError, RequestError, RemoteError, StateError, ConfigError)


def gateway_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the gateway package, by `module.Class`."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(gateway_package.__path__, gateway_package.__name__ + "."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_gateway_exception_is_under_the_root_in_exactly_one_branch() -> None:
    classes = gateway_exceptions()
    assert len(classes) > 25  # the walk found the modules (the tree has about thirty classes)
    outside = [name for name, cls in classes.items() if cls not in BRANCHES and cls is not GatewayError]
    misplaced = [name for name in outside if sum(issubclass(classes[name], b) for b in BRANCHES) != 1]
    assert misplaced == [], f"not in exactly one branch of GatewayError: {misplaced}"


def test_the_check_sees_an_exception_outside_the_tree() -> None:
    class Stray(Exception):
        pass

    assert sum(issubclass(Stray, branch) for branch in BRANCHES) == 0


@pytest.mark.parametrize(
    ("name", "branch", "builtin"),
    [
        ("tfy_gateway.gateway.providers.secrets.SecretError", ConfigError, ValueError),
        ("tfy_gateway.gateway.providers.targets.ProviderConfigError", ConfigError, ValueError),
        ("tfy_gateway.gateway.settings.SettingsError", ConfigError, ValueError),
        ("tfy_gateway.gateway.alerts.alert.AlertError", ConfigError, ValueError),
        ("tfy_gateway.gateway.config.compiled.CompileError", ConfigError, Exception),
        ("tfy_gateway.gateway.alerts.channels.ChannelError", ConfigError, Exception),
        ("tfy_gateway.gateway.request_logs.query.QueryError", RequestError, ValueError),
        ("tfy_gateway.gateway.alerts.query.AlertQueryError", RequestError, ValueError),
        ("tfy_gateway.gateway.limits.limiter.Refused", RequestError, Exception),
        ("tfy_gateway.gateway.data_plane.asgi.ClientGone", RequestError, Exception),
        ("tfy_gateway.gateway.alerts.schema.SchemaError", StateError, RuntimeError),
        ("tfy_gateway.gateway.alerts.schema.AlertsFileError", StateError, RuntimeError),
        ("tfy_gateway.gateway.alerts.database.AlertsUnavailable", StateError, Exception),
        ("tfy_gateway.gateway.shared.redis.StateStoreDown", StateError, Exception),
        ("tfy_gateway.gateway.store.base.StoreError", StateError, Exception),
        ("tfy_gateway.gateway.store.base.StoreConflict", StateError, Exception),
        ("tfy_gateway.gateway.dir_lock.DataDirServed", StateError, RuntimeError),
        ("tfy_gateway.gateway.providers.base.UpstreamError", RemoteError, Exception),
        ("tfy_gateway.gateway.providers.base.UpstreamStreamCut", RemoteError, Exception),
        ("tfy_gateway.gateway.providers.transport.TransportTimeout", RemoteError, Exception),
        ("tfy_gateway.gateway.alerts.notifiers.DeliveryError", RemoteError, Exception),
        ("tfy_gateway.gateway.data_plane.limiting.LimitExceeded", ApiError, Exception),
        ("tfy_gateway.gateway.limits.failover.StateUnavailable", ApiError, Exception),
        ("tfy_gateway.gateway.request_logs.backend.LogsUnavailable", ApiError, Exception),
    ],
)
def test_each_error_keeps_its_name_and_sits_in_its_branch(name: str, branch: type, builtin: type) -> None:
    module_name, _, class_name = name.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, branch) and issubclass(cls, builtin)


def test_value_errors_are_still_caught_as_value_errors() -> None:
    from tfy_gateway.gateway.providers.secrets import parse_reference

    with pytest.raises(ValueError, match="malformed secret reference"):
        parse_reference("tfy-secret://only-one-part")


def test_an_api_error_keeps_its_envelope_and_reports_nothing_by_default() -> None:
    error = ApiError(404, "No such thing.")
    assert error_body(error) == {
        "status": "failure",
        "message": "No such thing.",
        "error": {"message": "No such thing.", "type": "NotFoundError", "code": "404"},
        "error_origin_level": "control_plane",
    }
    assert (error.applied, error.headroom) == ((), ())
