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


_SCIM_MEDIA_TYPE = SCIM_MEDIA_TYPE.encode()


class _Encoded(Response):
    """A ``SCIMResponse`` of the hot paths, its headers built straight as the bytes
    Starlette's ``init_headers`` makes (the given ones first, then content-length and
    content-type), without its checks and copies."""

    def __init__(self, body: bytes, status_code: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"content-type", _SCIM_MEDIA_TYPE))
        self.raw_headers = headers


def resource_response(
    body: dict[str, Any], *, etag: str, location: str | None = None, status_code: int = 200
) -> Response:
    """A resource's body with its ETag and, when given, its Location: what
    ``SCIMResponse(body, headers={"ETag": …, "Location": …})`` sends."""
    headers = [(b"etag", etag.encode("latin-1"))]
    if location is not None:
        headers.append((b"location", location.encode("latin-1")))
    return _Encoded(orjson.dumps(body), status_code, headers)


def list_response(
    total: int,
    start_index: int | None,
    resources: list[dict[str, Any]],
    *,
    next_cursor: str | None = None,
) -> Response:
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
    return _Encoded(orjson.dumps(body), 200, [])


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
