"""Discovery endpoints under /scim/v2."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sitescim.scim.discovery import service_provider_config_body
from sitescim.web.deps import CurrentToken
from sitescim.web.responses import SCIM_MEDIA_TYPE, SCIMResponse
from sitescim.web.scim.plumbing import BaseUrl

router = APIRouter()


@router.get("/ServiceProviderConfig", response_class=SCIMResponse)
async def get_service_provider_config(token: CurrentToken, base_url: BaseUrl) -> Response:
    body = service_provider_config_body(base_url)
    return Response(body, media_type=SCIM_MEDIA_TYPE)
