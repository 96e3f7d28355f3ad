"""Discovery endpoints under /scim/v2 (RFC 7644 §4).

All of them sit behind the site token, as /ServiceProviderConfig always has:
RFC 7644 §4 lets a provider require authentication for discovery, and one rule
for every SCIM path is simpler to reason about. The bodies are built once per
base URL in ``sitescim.scim.discovery``; the handlers only pick one.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from scim2_models import ForbiddenException, NotFoundException, NotImplementedException
from starlette.exceptions import HTTPException as StarletteHTTPException

from sitescim.scim.discovery import (
    BulkLimits,
    discovery_documents,
    service_provider_config_body,
)
from sitescim.web.deps import CurrentToken, SettingsDep
from sitescim.web.responses import SCIM_MEDIA_TYPE, SCIMResponse
from sitescim.web.scim.plumbing import BaseUrl

router = APIRouter()

DISCOVERY_PATHS = (
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/{resource_id}",
    "/Schemas",
    "/Schemas/{resource_id}",
)
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


def _refuse_filter(request: Request) -> None:
    """RFC 7644 §4: query parameters are ignored here, but a filter SHOULD get 403.

    Answering a filtered query with everything would let a client believe that
    every document matched its filter.
    """
    if "filter" in request.query_params:
        raise ForbiddenException(
            detail="Discovery endpoints do not filter (RFC 7644 §4); ask without 'filter'."
        )


def _document(body: bytes) -> Response:
    return Response(body, media_type=SCIM_MEDIA_TYPE)


def _document_by_id(documents: Mapping[str, bytes], resource_id: str, kind: str) -> Response:
    """Ids compare case-insensitively; an unknown one is a SCIM 404."""
    body = documents.get(resource_id.lower())
    if body is None:
        raise NotFoundException(detail=f"No {kind} '{resource_id}'.")
    return _document(body)


@router.get("/ServiceProviderConfig", response_class=SCIMResponse)
async def get_service_provider_config(
    request: Request, token: CurrentToken, base_url: BaseUrl, settings: SettingsDep
) -> Response:
    _refuse_filter(request)
    bulk = BulkLimits(settings.bulk_max_operations, settings.bulk_max_payload_bytes)
    return _document(service_provider_config_body(base_url, bulk))


@router.get("/ResourceTypes", response_class=SCIMResponse)
async def list_resource_types(request: Request, token: CurrentToken, base_url: BaseUrl) -> Response:
    _refuse_filter(request)
    return _document(discovery_documents(base_url).resource_types)


@router.get("/ResourceTypes/{resource_id}", response_class=SCIMResponse)
async def get_resource_type(
    resource_id: str, request: Request, token: CurrentToken, base_url: BaseUrl
) -> Response:
    _refuse_filter(request)
    documents = discovery_documents(base_url).resource_types_by_id
    return _document_by_id(documents, resource_id, "resource type")


@router.get("/Schemas", response_class=SCIMResponse)
async def list_schemas(request: Request, token: CurrentToken, base_url: BaseUrl) -> Response:
    _refuse_filter(request)
    return _document(discovery_documents(base_url).schemas)


@router.get("/Schemas/{resource_id}", response_class=SCIMResponse)
async def get_schema(
    resource_id: str, request: Request, token: CurrentToken, base_url: BaseUrl
) -> Response:
    _refuse_filter(request)
    return _document_by_id(discovery_documents(base_url).schemas_by_id, resource_id, "schema")


@router.post("/.search", response_class=SCIMResponse)
async def search_server_root(token: CurrentToken) -> Response:
    """RFC 7644 §3.4.3 lets a provider search every resource type at once from the
    root; we do not, and §3.12 names 501 for an operation a provider does not
    support (a 404 would claim the endpoint does not exist). /Users/.search and
    /Groups/.search search one resource type each.
    """
    raise NotImplementedException(
        detail="Searching every resource type at once is not supported; "
        "POST to /Users/.search or /Groups/.search."
    )


async def refuse_write(token: CurrentToken) -> Response:
    """Discovery documents are read-only: 405 with Allow, after authentication.

    Without these routes the catch-all SCIM route would answer 404, which tells
    a client the endpoint is missing rather than that the method is wrong.
    """
    raise StarletteHTTPException(
        405, detail="Discovery endpoints only answer GET.", headers={"Allow": "GET"}
    )


for _path in DISCOVERY_PATHS:
    router.add_api_route(
        _path, refuse_write, methods=WRITE_METHODS, include_in_schema=False, name=None
    )
