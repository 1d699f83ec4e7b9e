"""Wire shapes of control-plane resources, after the platform SDK's types.

`GatewayConfiguration`, `ProviderAccount`, `VirtualAccount`, `Team`, `User` and the PAT listing use
the SDK's camelCase field names. Every manifest a view shows is redacted (`redaction.py`: plaintext
API keys, passwords and bearer tokens become `<redacted>`, URLs are masked); the apply response's
`existingManifest` is redacted against the manifest being applied (see `redaction.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.access import account_fqn, provider_of
from tfy_gateway.gateway.control_plane.redaction import redact
from tfy_gateway.gateway.snapshot import ConfigSnapshot, Resource
from tfy_gateway.gateway.store import TokenRecord, UserRecord


def subject(created_by: Mapping[str, Any]) -> dict[str, Any]:
    return dict(created_by)


def _meta(resource: Resource, tenant: str) -> dict[str, Any]:
    return {
        "id": resource.id,
        "tenantName": tenant,
        "createdBySubject": subject(resource.record.created_by),
        "createdAt": resource.record.created_at,
        "updatedAt": resource.record.updated_at,
    }


def gateway_config(resource: Resource, tenant: str) -> dict[str, Any]:
    """`GatewayConfiguration`: `{id, tenantName, type, manifest, createdBySubject, createdAt, updatedAt}`."""
    return {**_meta(resource, tenant), "type": resource.type, "manifest": redact(resource.manifest)}


def integration(account: Resource, item: Mapping[str, Any], tenant: str, *, secrets: bool) -> dict[str, Any]:
    name = str(item.get("name", ""))
    fqn = account_fqn(tenant, account.manifest)
    return {
        "id": f"{account.id}:{name}",
        "fqn": f"{fqn}:{name}",
        "name": name,
        "type": item.get("type"),
        "model": f"{account.name}/{name}",
        "providerAccountName": account.name,
        "providerAccountFqn": fqn,
        "provider": provider_of(account.type),
        "modelId": item.get("model_id") or item.get("hosted_model_name"),
        "modelTypes": list(item.get("model_types") or []),
        "manifest": dict(item) if secrets else redact(item),
    }


def provider_account(resource: Resource, tenant: str, *, secrets: bool = False) -> dict[str, Any]:
    """`ProviderAccount`: `{id, fqn, name, provider, manifest, integrations, ...}`."""
    manifest = resource.manifest
    items = [i for i in manifest.get("integrations") or [] if isinstance(i, Mapping)]
    return {
        **_meta(resource, tenant),
        "fqn": account_fqn(tenant, manifest),
        "name": resource.name,
        "type": resource.type,
        "provider": provider_of(resource.type),
        "accountId": tenant,
        "manifest": dict(manifest) if secrets else redact(manifest),
        "integrations": [integration(resource, i, tenant, secrets=secrets) for i in items],
    }


def virtual_account(resource: Resource, tenant: str, snapshot: ConfigSnapshot) -> dict[str, Any]:
    """`VirtualAccount`, plus `models`: the model ids its permissions grant on this gateway."""
    return {
        **_meta(resource, tenant),
        "name": resource.name,
        "type": "virtual-account",
        "accountId": tenant,
        "manifest": redact(resource.manifest),
        "isExpired": False,
        "models": sorted(snapshot.access.grants.get(resource.name, frozenset())),
    }


def team(resource: Resource, tenant: str) -> dict[str, Any]:
    manifest = resource.manifest
    return {
        **_meta(resource, tenant),
        "name": resource.name,
        "teamName": resource.name,
        "description": manifest.get("description") or "",
        "accountId": tenant,
        "members": list(manifest.get("members") or []),
        "manifest": redact(manifest),
        "isEditable": True,
    }


def user(record: UserRecord, teams: tuple[str, ...], tenant: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "email": record.email,
        "tenantName": tenant,
        "metadata": {"displayName": record.email},
        "roles": ["tenant-admin"] if record.is_admin else ["tenant-member"],
        "isAdmin": record.is_admin,
        "teams": list(teams),
        "active": True,
        "isEditable": True,
        "createdAt": record.created_at,
        "updatedAt": record.created_at,
    }


def personal_access_token(token: TokenRecord, owner: UserRecord | None, tenant: str) -> dict[str, Any]:
    """A PAT as the platform lists it (the SDK reuses the VirtualAccount shape); never the secret."""
    manifest: dict[str, Any] = {"name": token.name, "type": "pat", "user_fqn": token.owner}
    if token.expires_at:
        manifest["expiration_date"] = token.expires_at
    return {
        "id": token.id,
        "name": token.name,
        "type": "pat",
        "tenantName": tenant,
        "accountId": tenant,
        "manifest": manifest,
        "createdBySubject": {
            "subjectId": owner.id if owner else token.owner,
            "subjectType": "user",
            "subjectSlug": token.owner,
        },
        "createdAt": token.created_at,
        "updatedAt": token.created_at,
        "isExpired": False,
    }


def resource(resource: Resource, tenant: str, snapshot: ConfigSnapshot) -> dict[str, Any]:
    """The apply response's `data` for any resource type."""
    if resource.key == (resource.type, resource.type):
        return gateway_config(resource, tenant)
    if resource.type.startswith("provider-account/"):
        return provider_account(resource, tenant)
    if resource.type == "virtual-account":
        return virtual_account(resource, tenant, snapshot)
    if resource.type == "team":
        return team(resource, tenant)
    return {
        **_meta(resource, tenant),
        "name": resource.name,
        "type": resource.type,
        "manifest": redact(resource.manifest),
    }
