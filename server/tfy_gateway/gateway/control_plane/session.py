"""What the `tfy` CLI asks before anything else: versions, tenant, session, dependency tree."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane.http import json_response, read_object, require_user
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import get_state


async def min_cli_version(request: Request) -> Response:
    """No auth. Both version fields are required by the CLI; 0.0.0 accepts every version."""
    return json_response({"minVersion": "0.0.0", "truefoundryCliMinVersion": "0.0.0", "useSFYServerAuthAPIs": True})


async def tenant_id(request: Request) -> Response:
    """No auth. The CLI aborts without `auth_server_url` (snake_case)."""
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return json_response({"tenantName": get_state(request).tenant, "auth_server_url": origin})


async def session(request: Request) -> Response:
    """The caller's identity. `tfy login` shows the first of subject.subjectPatName,
    metadata.userObject.username, subject.subjectSlug: we leave out the PAT name so it shows the email."""
    principal = require_user(request)
    tenant = get_state(request).tenant
    subject = {
        "subjectId": principal.id,
        "subjectType": "user",
        "subjectSlug": principal.name,
        "subjectDisplayName": principal.name,
    }
    user: dict[str, Any] = {
        "id": principal.id,
        "email": principal.email,
        "username": principal.name,
        "tenantName": tenant,
        "subject": subject,
        "roles": ["tenant-admin"] if principal.is_admin else ["tenant-member"],
        "teams": list(principal.teams),
        "metadata": {"userObject": {"username": principal.name}},
    }
    return json_response({"user": user, "tenantInfo": {"tenantName": tenant}})


async def dependency_tree(request: Request) -> Response:
    """Optional for the CLI: every manifest is independent here, so apply order is by type."""
    require_user(request)
    body = await read_object(request)
    manifests = body.get("manifests")
    if not isinstance(manifests, list):
        raise ApiError(400, 'Expected a JSON body {"manifests": [ ... ]}.')
    data = [
        {
            "resourceType": str(m.get("type", "")) if isinstance(m, dict) else "",
            "resourceName": str(m.get("name", m.get("type", ""))) if isinstance(m, dict) else "",
            "dependencies": [],
        }
        for m in manifests
    ]
    return json_response({"data": data})


routes = [
    Route("/api/svc/v1/min-cli-version", min_cli_version, methods=["GET"]),
    Route("/api/svc/v1/tenant-id", tenant_id, methods=["GET"]),
    Route("/api/svc/v1/session", session, methods=["GET"]),
    Route("/api/svc/v1/dependency-tree", dependency_tree, methods=["POST"]),
]
