"""Discovery endpoints under /scim/v2."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sitescim.scim.discovery import service_provider_config_body
from sitescim.web.deps import CurrentToken, SettingsDep
from sitescim.web.responses import SCIM_MEDIA_TYPE, SCIMResponse

router = APIRouter()


def scim_base_url(request: Request, public_base_url: str | None) -> str:
    if public_base_url:
        return public_base_url.rstrip("/") + "/scim/v2"
    return str(request.base_url).rstrip("/") + "/scim/v2"


@router.get("/ServiceProviderConfig", response_class=SCIMResponse)
async def get_service_provider_config(
    request: Request, token: CurrentToken, settings: SettingsDep
) -> Response:
    body = service_provider_config_body(scim_base_url(request, settings.public_base_url))
    return Response(body, media_type=SCIM_MEDIA_TYPE)
