"""SCIM responses: the SCIM media type on every body we send under /scim/v2."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.responses import Response

from sitescim.scim.schemas import LIST_RESPONSE_SCHEMA

SCIM_MEDIA_TYPE = "application/scim+json"


class SCIMResponse(Response):
    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def list_response(
    total: int,
    start_index: int | None,
    resources: list[dict[str, Any]],
    *,
    next_cursor: str | None = None,
) -> SCIMResponse:
    """A ListResponse (RFC 7644 §3.4.2) of already-dumped resources.

    A cursor page (RFC 9865) has no ``startIndex``, and a ``nextCursor`` unless it is the last.
    """
    body: dict[str, Any] = {"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": total}
    if start_index is not None:
        body["startIndex"] = start_index
    body["itemsPerPage"] = len(resources)
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    body["Resources"] = resources
    return SCIMResponse(body)


def encoded_list_response(
    total: int,
    start_index: int | None,
    documents: Sequence[str],
    *,
    next_cursor: str | None = None,
) -> Response:
    """The same ListResponse as ``list_response``, around resources already in JSON text."""
    head: dict[str, Any] = {"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": total}
    if start_index is not None:
        head["startIndex"] = start_index
    head["itemsPerPage"] = len(documents)
    if next_cursor is not None:
        head["nextCursor"] = next_cursor
    body = orjson.dumps(head)[:-1] + b',"Resources":[' + ",".join(documents).encode() + b"]}"
    return Response(body, media_type=SCIM_MEDIA_TYPE)
