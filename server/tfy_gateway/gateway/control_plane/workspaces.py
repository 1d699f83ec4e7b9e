"""`GET /workspaces`: the skill's connectivity check. The local gateway has one workspace."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane.http import json_response, paginated, require_user
from tfy_gateway.gateway.state import get_state

LOCAL_CLUSTER = "local"
LOCAL_WORKSPACE = "local"


async def list_workspaces(request: Request) -> Response:
    require_user(request)
    tenant = get_state(request).tenant
    workspace = {
        "id": f"{LOCAL_CLUSTER}-{LOCAL_WORKSPACE}",
        "name": LOCAL_WORKSPACE,
        "fqn": f"{LOCAL_CLUSTER}:{LOCAL_WORKSPACE}",
        "tenantName": tenant,
        "clusterId": LOCAL_CLUSTER,
        "accountId": tenant,
        "isSystemWs": False,
        "manifest": {"type": "workspace", "name": LOCAL_WORKSPACE, "cluster_fqn": LOCAL_CLUSTER},
    }
    return json_response(paginated(request, [workspace]))


routes = [Route("/api/svc/v1/workspaces", list_workspaces, methods=["GET"])]
