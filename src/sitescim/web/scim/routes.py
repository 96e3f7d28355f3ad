"""The SCIM API's routes: one table of path -> method -> handler, under /scim/v2.

Every path authenticates first, so nothing is told to a caller without a
valid token (not even which methods a path takes). A known path with another
method gets 405 with ``Allow``; an unknown path gets a SCIM 404.

The SCIM lane (web/scim/lane.py) finds a route by splitting the path and
looking it up (``RouteTable``); the same table is also mounted in the FastAPI
application (``scim_routes``) for the few requests the lane leaves to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from scim2_models import NotFoundException
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from sitescim.db.reads import UsersWhere
from sitescim.scim import lookups
from sitescim.scim.listing import ListQuery
from sitescim.web.scim import bulk, discovery, groups, users
from sitescim.web.scim.context import (
    Handler,
    ScimRequest,
    authenticate,
    endpoint,
    query_parameters,
)

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
ROUTED_METHODS = {method.upper() for method in METHODS}
ROUTED_METHODS.add("HEAD")
"""What a Starlette ``Route(methods=METHODS)`` takes (it adds HEAD to GET); any other
method is refused with 405 before authentication, as the mounted routes refuse it."""
NOT_FOUND_TEMPLATE = SCIM_MOUNT + "/{rest:path}"


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
    raise not_found("/" + request.path_params["rest"])


def not_found(rest: str) -> NotFoundException:
    """The SCIM 404 of a path below /scim/v2 that names no endpoint."""
    return NotFoundException(detail=f"No SCIM endpoint at {rest}.")


USER_BY_ID = SCIM_MOUNT + "/Users/{id}"
USERS = SCIM_MOUNT + "/Users"


@dataclass(frozen=True, slots=True)
class ScimRoute:
    """One path of ROUTES: its template (the metrics label), handlers by method, and
    the 405 answered, after authentication, to any other method."""

    template: str
    handlers: Mapping[str, Handler]
    refuse: Handler

    def user_read_with_token(self, method: str, resource_id: str | None) -> str | None:
        """The id of the user the token's statement reads too: a GET by id's, so that
        the GET is one statement (its handler reads the user itself otherwise)."""
        if method == "GET" and self.template == USER_BY_ID:
            return resource_id
        return None

    def lookup_with_token(self, method: str, scope: Scope) -> tuple[ListQuery, UsersWhere] | None:
        """The ``eq`` lookup a list of users is (Entra ID and Okta send one before each
        create), parsed before authentication so that the token's statement reads its
        users too; None for any other request or query."""
        if method != "GET" or self.template != USERS or not scope.get("query_string"):
            return None
        return lookups.lookup_in(query_parameters(scope))


class RouteTable:
    """ROUTES found by a dictionary lookup of the path below /scim/v2: the whole path,
    else its parent for a template ending in ``/{id}`` (the last segment is the id).

    What the mounted Starlette routes match, without a regular expression per route
    per request: ``{id}`` is one non-empty segment, as Starlette's ``[^/]+``.
    """

    def __init__(self, routes: Mapping[str, Mapping[str, Handler]]) -> None:
        self._exact: dict[str, ScimRoute] = {}
        self._by_parent: dict[str, ScimRoute] = {}
        for path, handlers in routes.items():
            route = ScimRoute(SCIM_MOUNT + path, handlers, _method_not_allowed(list(handlers)))
            parent, _, last = path.rpartition("/")
            if last == "{id}":
                self._by_parent[parent] = route
            else:
                assert "{" not in path, f"only a last {{id}} is routed: {path}"
                self._exact[path] = route

    def find(self, rest: str) -> tuple[ScimRoute, str | None] | None:
        """The route of ``rest`` (the path below /scim/v2) and its resource id, if any."""
        route = self._exact.get(rest)
        if route is not None:
            return route, None
        parent, _, last = rest.rpartition("/")
        route = self._by_parent.get(parent)
        if route is None or not last:
            return None
        return route, last


def scim_routes() -> BaseRoute:
    """The /scim/v2 mount, to be placed first among the application's routes."""
    routes = [
        Route(path, _dispatch(handlers), methods=METHODS, include_in_schema=False)
        for path, handlers in ROUTES.items()
    ]
    routes.append(Route("/{rest:path}", _not_found, methods=METHODS, include_in_schema=False))
    return Mount(SCIM_MOUNT, routes=routes)
