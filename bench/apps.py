"""ASGI apps the benchmarks start besides the real service.

`starlette_yardstick` is the yardstick of `scim_load.py`: a bare Starlette app
with sitescim's SCIM routes under /scim/v2, each answering a fixed pre-encoded
JSON body after a plain string compare of the bearer token, so every sitescim
figure is a ratio to what uvicorn and Starlette alone manage on this machine in
this run. `bare` is rawer still: an ASGI callable with no routing or
authentication at all. `scim2_server_peer` is the peer: scim2-server's own ASGI
application over its in-memory storage, seeded with the benchmark's users.
`webhook_receiver` answers every webhook delivery with 204 (events_cost.py).
`unauthenticated` is sitescim with one extra route serving the same
ServiceProviderConfig without a token, to isolate what authentication costs.

Only `bare` and `unauthenticated` import sitescim, and only when used, so the
yardstick and the peer start whatever state sitescim's code is in.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

if TYPE_CHECKING:
    from fastapi import FastAPI
    from scim2_server.requests import ScimRequest

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SCIM_MEDIA_TYPE = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
BASE = "http://127.0.0.1/scim/v2"
STAMP = "2025-01-01T00:00:00+00:00"


@cache
def _spc_body() -> bytes:
    from sitescim.scim.discovery import service_provider_config

    return json.dumps(service_provider_config(BASE)).encode()


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """uvicorn alone: sitescim's ServiceProviderConfig as a fixed body, whatever the request.

    The body is encoded at startup (lifespan), so no request pays for importing sitescim.
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _spc_body()
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/scim+json")],
        }
    )
    await send({"type": "http.response.body", "body": _spc_body()})


def user_resource(i: int, user_id: str) -> dict[str, Any]:
    """User ``i`` of bench/seed.py as SCIM JSON: the shape sitescim answers for it."""
    given, family = f"Given{i}", f"Family{i}"
    return {
        "schemas": [USER_URN],
        "id": user_id,
        "externalId": f"ext-{i}",
        "userName": f"user{i}@bench.test",
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "displayName": f"{given} {family}",
        "active": True,
        "emails": [{"value": f"user{i}@bench.example.com", "type": "work", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": STAMP,
            "lastModified": STAMP,
            "version": 'W/"1"',
            "location": f"{BASE}/Users/{user_id}",
        },
    }


def starlette_yardstick() -> Starlette:
    """The yardstick: sitescim's SCIM routes, each a fixed body behind a string compare.

    Writes read the request body (the server has to receive it anyway) and
    ignore it; GET /Users ignores filter and paging and answers the one user an
    identity provider's ``eq`` filter finds (so a page of 100 from sitescim is
    measured against the framework's floor, not against a page of its own).
    ``BENCH_TOKEN`` is the bearer it accepts.
    """
    expected = f"Bearer {os.environ['BENCH_TOKEN']}"
    user_id = "2819c223-7f76-453a-919d-413861904646"
    user = json.dumps(user_resource(0, user_id)).encode()
    page = json.dumps(
        {
            "schemas": [LIST_URN],
            "totalResults": 1,
            "itemsPerPage": 1,
            "startIndex": 1,
            "Resources": [user_resource(0, user_id)],
        }
    ).encode()
    group = json.dumps(
        {
            "schemas": [GROUP_URN],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Bench group",
            "meta": {"resourceType": "Group", "version": 'W/"2"'},
        }
    ).encode()
    bulk = json.dumps(
        {
            "schemas": [BULK_RESPONSE_URN],
            "Operations": [
                {
                    "method": "POST",
                    "bulkId": "u0",
                    "location": f"{BASE}/Users/{user_id}",
                    "status": "201",
                }
            ],
        }
    ).encode()
    unauthorized = json.dumps({"schemas": [ERROR_URN], "status": "401"}).encode()

    def answer(body: bytes, status: int = 200, *, read: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            if request.headers.get("authorization") != expected:
                return Response(unauthorized, 401, media_type=SCIM_MEDIA_TYPE)
            if read:
                await request.body()
            return Response(body, status, media_type=SCIM_MEDIA_TYPE)

        return endpoint

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    scim = [
        Route("/Users/{user_id}", answer(user), methods=["GET"]),
        Route("/Users", answer(page), methods=["GET"]),
        Route("/Users", answer(user, 201, read=True), methods=["POST"]),
        Route("/Users/{user_id}", answer(user, read=True), methods=["PATCH"]),
        Route("/Groups/{group_id}", answer(group, read=True), methods=["PATCH"]),
        Route("/Bulk", answer(bulk, read=True), methods=["POST"]),
    ]
    return Starlette(routes=[Route("/healthz", healthz), Mount("/scim/v2", routes=scim)])


def cursor_extra_installed() -> bool:
    """scim2-server pages by cursor only with its ``cursor`` extra (cryptography)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def scim2_server_peer() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """scim2-server's ASGI application over its in-memory storage, under /scim/v2.

    ``BENCH_PEER_SEED`` names a JSON file: ``token`` (the bearer it accepts),
    ``users`` (``[ids file, first index]`` ranges, users shaped as bench/seed.py
    makes them), ``groups`` (``[id, name, member count]``, members taken from the
    first range). The resources go into the storage with the ids sitescim gave
    them, so the same wrk scripts drive both servers. Its configuration is its
    default (bulk: 1,000 operations, 1 MiB; filter maxResults 1,000), plus the
    bearer scheme and, when the ``cursor`` extra is installed, cursor paging.
    """
    from scim2_models import Pagination, ScimProvider, UnauthorizedException
    from scim2_server.applications.asgi import ASGIApplication
    from scim2_server.memory import AsyncInMemoryStorage, InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    spec = json.loads(Path(os.environ["BENCH_PEER_SEED"]).read_text())
    expected = f"Bearer {spec['token']}"

    class BearerApplication(ASGIApplication):
        def check_auth(self, request: ScimRequest) -> None:
            if request.header("Authorization") != expected:
                raise UnauthorizedException

    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    secret = None
    if cursor_extra_installed():
        config.pagination = Pagination(cursor=True, index=True)
        secret = "bench-" + "z" * 40
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    user_model = provider.model_for_endpoint("/Users")
    group_model = provider.model_for_endpoint("/Groups")
    assert user_model is not None
    assert group_model is not None
    now = datetime.datetime.now(datetime.UTC).isoformat()
    resources: list[Any] = []
    first_ids: list[str] = []
    for ids_file, start in spec["users"]:
        ids = Path(ids_file).read_text().split()
        first_ids = first_ids or ids
        for k, user_id in enumerate(ids):
            document = user_resource(start + k, user_id)
            document["meta"] = {
                "resourceType": "User",
                "created": now,
                "lastModified": now,
                "version": 'W/"1"',
            }
            resources.append(user_model.model_validate(document))
    for group_id, name, members in spec["groups"]:
        document = {
            "schemas": [GROUP_URN],
            "id": group_id,
            "displayName": name,
            "members": [{"value": user_id, "type": "User"} for user_id in first_ids[:members]],
            "meta": {
                "resourceType": "Group",
                "created": now,
                "lastModified": now,
                "version": 'W/"1"',
            },
        }
        resources.append(group_model.model_validate(document))
    storage = InMemoryStorage()
    storage.resources = resources
    app = BearerApplication(
        AsyncInMemoryStorage(storage), provider, ScimService(provider, secret=secret)
    )

    async def under_scim(scope: Scope, receive: Receive, send: Send) -> None:
        # The application serves /v2/... below its root path; ours is /scim.
        if scope["type"] == "http":
            scope = {**scope, "root_path": "/scim"}
        await app(dict(scope), receive, send)  # type: ignore[arg-type]

    return under_scim


def unauthenticated() -> FastAPI:
    from fastapi import Request as FastAPIRequest

    from sitescim.scim.discovery import service_provider_config_body
    from sitescim.web.app import create_app
    from sitescim.web.deps import SettingsDep
    from sitescim.web.scim.context import scim_base_url

    app = create_app()

    @app.get("/bench/ServiceProviderConfig")
    async def spc_without_token(request: FastAPIRequest, settings: SettingsDep) -> Response:
        """The real handler's body, minus the CurrentToken dependency."""
        base = scim_base_url(request, settings.public_base_url)
        return Response(service_provider_config_body(base), media_type=SCIM_MEDIA_TYPE)

    return app


async def webhook_receiver(scope: Scope, receive: Receive, send: Send) -> None:
    """A webhook endpoint that reads the body and answers 204 at once (events_cost.py)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body"))
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
