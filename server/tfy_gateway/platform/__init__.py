"""Client for a TrueFoundry-compatible control plane: the platform itself or `tfy-gateway serve`.

Credentials come from the environment only (`ControlPlaneSettings.from_env`). The pure helpers
(`compute_diff`, `plan_diff`, `merge_rule`, `remove_rule`, apply order) need no network; `smoke_test` sends one
real request through a gateway's data plane.
"""

from tfy_gateway.manifests.diff import (
    compute_diff,
    creation_diff,
    format_manifest,
    manifest_label,
    plan_diff,
    strip_none_fields,
)
from tfy_gateway.platform.client import ApplyOutcome, ControlPlaneClient
from tfy_gateway.platform.errors import (
    AuthenticationError,
    ConfigurationError,
    ControlPlaneError,
    NotFoundError,
    PermissionDeniedError,
    ResourceNotFoundError,
    UnreachableError,
    UnsupportedFeatureError,
    ValidationFailed,
)
from tfy_gateway.platform.identities import CreatedToken, NewUser, TokenView, UserView
from tfy_gateway.platform.merge import RuleNotFoundError, is_catch_all, merge_rule, remove_rule
from tfy_gateway.platform.order import (
    BASE_TYPE_ORDER,
    BatchAccounts,
    integration_names,
    integration_references,
    sort_for_apply,
    sort_for_delete,
    type_priority,
)
from tfy_gateway.platform.settings import (
    API_KEY_VARIABLE,
    BASE_URL_VARIABLES,
    ControlPlaneSettings,
    mask_secret,
    normalize_base_url,
)
from tfy_gateway.platform.smoke import SmokeOutcome, TokenUsage, smoke_test

__all__ = [
    "API_KEY_VARIABLE",
    "BASE_TYPE_ORDER",
    "BASE_URL_VARIABLES",
    "ApplyOutcome",
    "AuthenticationError",
    "BatchAccounts",
    "ConfigurationError",
    "ControlPlaneClient",
    "ControlPlaneError",
    "ControlPlaneSettings",
    "CreatedToken",
    "NewUser",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceNotFoundError",
    "RuleNotFoundError",
    "SmokeOutcome",
    "TokenUsage",
    "TokenView",
    "UnreachableError",
    "UnsupportedFeatureError",
    "UserView",
    "ValidationFailed",
    "compute_diff",
    "creation_diff",
    "format_manifest",
    "integration_names",
    "integration_references",
    "is_catch_all",
    "manifest_label",
    "mask_secret",
    "merge_rule",
    "normalize_base_url",
    "plan_diff",
    "remove_rule",
    "smoke_test",
    "sort_for_apply",
    "sort_for_delete",
    "strip_none_fields",
    "type_priority",
]
