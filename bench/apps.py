"""ASGI apps the benchmarks start besides the real service.

`bare` is the yardstick: a raw ASGI app returning a fixed JSON body, so every
figure is a ratio to what uvicorn itself manages on this machine in this run.
`unauthenticated` is sitescim with one extra route serving the same
ServiceProviderConfig without a token, to isolate what authentication costs.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, Response

from sitescim.scim.discovery import service_provider_config, service_provider_config_body
from sitescim.web.app import create_app
from sitescim.web.deps import SettingsDep
from sitescim.web.responses import SCIM_MEDIA_TYPE
from sitescim.web.scim.context import scim_base_url

BODY = json.dumps(service_provider_config("http://127.0.0.1/scim/v2")).encode()


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/scim+json")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def unauthenticated() -> FastAPI:
    app = create_app()

    @app.get("/bench/ServiceProviderConfig")
    async def spc_without_token(request: Request, settings: SettingsDep) -> Response:
        """The real handler's body, minus the CurrentToken dependency."""
        base = scim_base_url(request, settings.public_base_url)
        return Response(service_provider_config_body(base), media_type=SCIM_MEDIA_TYPE)

    return app
