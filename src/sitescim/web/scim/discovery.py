"""Discovery endpoints under /scim/v2 (RFC 7644 §4).

All of them sit behind the site token, as /ServiceProviderConfig always has:
RFC 7644 §4 lets a provider require authentication for discovery, and one rule
for every SCIM path is simpler to reason about. The bodies are built once per
base URL in ``sitescim.scim.discovery``; the handlers only pick one.
"""

from __future__ import annotations

from collections.abc import Mapping

from scim2_models import ForbiddenException, NotFoundException, NotImplementedException
from starlette.responses import Response

from sitescim.scim.discovery import (
    BulkLimits,
    discovery_documents,
    service_provider_config_body,
)
from sitescim.web.responses import SCIM_MEDIA_TYPE
from sitescim.web.scim.context import ScimRequest


def _refuse_filter(scim: ScimRequest) -> None:
    """RFC 7644 §4: query parameters are ignored here, but a filter SHOULD get 403.

    Answering a filtered query with everything would let a client believe that
    every document matched its filter.
    """
    if "filter" in scim.request.query_params:
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


async def get_service_provider_config(scim: ScimRequest) -> Response:
    _refuse_filter(scim)
    settings = scim.settings
    bulk = BulkLimits(settings.bulk_max_operations, settings.bulk_max_payload_bytes)
    return _document(service_provider_config_body(scim.base_url, bulk))


async def list_resource_types(scim: ScimRequest) -> Response:
    _refuse_filter(scim)
    return _document(discovery_documents(scim.base_url).resource_types)


async def get_resource_type(scim: ScimRequest) -> Response:
    _refuse_filter(scim)
    documents = discovery_documents(scim.base_url).resource_types_by_id
    return _document_by_id(documents, scim.id, "resource type")


async def list_schemas(scim: ScimRequest) -> Response:
    _refuse_filter(scim)
    return _document(discovery_documents(scim.base_url).schemas)


async def get_schema(scim: ScimRequest) -> Response:
    _refuse_filter(scim)
    return _document_by_id(discovery_documents(scim.base_url).schemas_by_id, scim.id, "schema")


async def search_server_root(scim: ScimRequest) -> Response:
    """RFC 7644 §3.4.3 lets a provider search every resource type at once from the
    root; we do not, and §3.12 names 501 for an operation a provider does not
    support (a 404 would claim the endpoint does not exist). /Users/.search and
    /Groups/.search search one resource type each.
    """
    raise NotImplementedException(
        detail="Searching every resource type at once is not supported; "
        "POST to /Users/.search or /Groups/.search."
    )
