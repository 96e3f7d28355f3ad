"""The SCIM API's routes: one table of path -> method -> handler, mounted at /scim/v2.

Every path authenticates first, so nothing is told to a caller without a
valid token (not even which methods a path takes). A known path with another
method gets 405 with ``Allow``; an unknown path gets a SCIM 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from scim2_models import NotFoundException
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from sitescim.web.scim import bulk, discovery, groups, users
from sitescim.web.scim.context import Handler, ScimRequest, authenticate, endpoint

SCIM_MOUNT = "/scim/v2"

ROUTES: Mapping[str, Mapping[str, Handler]] = {
    "/Users": {"GET": users.list_users, "POST": users.create_user},
    "/Users/.search": {"POST": users.search_users},
    "/Users/{id}": {
        "GET": users.get_user,
        "PUT": users.replace_user,
        "PATCH": users.patch_user,
        "DELETE": users.delete_user,
    },
    "/Groups": {"GET": groups.list_groups, "POST": groups.create_group},
    "/Groups/.search": {"POST": groups.search_groups},
    "/Groups/{id}": {
        "GET": groups.get_group,
        "PUT": groups.replace_group,
        "PATCH": groups.patch_group,
        "DELETE": groups.delete_group,
    },
    "/Bulk": {"POST": bulk.run_bulk},
    "/.search": {"POST": discovery.search_server_root},
    "/ServiceProviderConfig": {"GET": discovery.get_service_provider_config},
    "/ResourceTypes": {"GET": discovery.list_resource_types},
    "/ResourceTypes/{id}": {"GET": discovery.get_resource_type},
    "/Schemas": {"GET": discovery.list_schemas},
    "/Schemas/{id}": {"GET": discovery.get_schema},
}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
"""Every method reaches the dispatcher, so any other one is refused after authentication."""


def _method_not_allowed(allowed: list[str]) -> Handler:
    allow = ", ".join(allowed)

    async def refuse(scim: ScimRequest) -> Response:
        raise HTTPException(
            405, detail=f"This endpoint answers {allow} only.", headers={"Allow": allow}
        )

    return refuse


def _dispatch(handlers: Mapping[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
    by_method = {method: endpoint(handler) for method, handler in handlers.items()}
    refuse = endpoint(_method_not_allowed(list(handlers)))

    async def route(request: Request) -> Response:
        return await by_method.get(request.method, refuse)(request)

    return route


async def _not_found(request: Request) -> Response:
    await authenticate(request)
    raise NotFoundException(detail=f"No SCIM endpoint at /{request.path_params['rest']}.")


def scim_routes() -> BaseRoute:
    """The /scim/v2 mount, to be placed first among the application's routes."""
    routes = [
        Route(path, _dispatch(handlers), methods=METHODS, include_in_schema=False)
        for path, handlers in ROUTES.items()
    ]
    routes.append(Route("/{rest:path}", _not_found, methods=METHODS, include_in_schema=False))
    return Mount(SCIM_MOUNT, routes=routes)
