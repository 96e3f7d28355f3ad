"""What every SCIM router shares: the request body, the base URL, the site."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from scim2_models import InvalidSyntaxException

from sitescim.scim import compat
from sitescim.web.deps import CurrentToken, SettingsDep

SCIM_BODY_TYPES = ("application/scim+json", "application/json")


def scim_base_url(request: Request, public_base_url: str | None) -> str:
    """Absolute base for meta.location: the configured public URL, else the request's."""
    if public_base_url:
        return public_base_url.rstrip("/") + "/scim/v2"
    return str(request.base_url).rstrip("/") + "/scim/v2"


async def get_base_url(request: Request, settings: SettingsDep) -> str:
    return scim_base_url(request, settings.public_base_url)


BaseUrl = Annotated[str, Depends(get_base_url)]


async def read_body(
    request: Request, settings: SettingsDep, base_url: BaseUrl
) -> AsyncIterator[dict[str, Any]]:
    """A JSON object in SCIM or plain JSON media type, else 400 invalidSyntax.

    Identity-provider quirks are rewritten into RFC form here, once for every
    SCIM route (scim.compat), unless the service runs in strict RFC mode. The
    rest of the request runs under the matching scim2-models policy, made
    ambient for it, so the PATCH engines tolerate exactly what compat does.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and media not in SCIM_BODY_TYPES:
        raise InvalidSyntaxException(
            detail="Send the body as application/scim+json (or application/json)."
        )
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSyntaxException(detail="The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="The request body must be a JSON object.")
    strict = settings.scim_strict
    below = request.url.path.partition("/scim/v2")[2]
    body = compat.normalise(
        body, method=request.method, path=below, base_url=base_url, strict=strict
    )
    with compat.request_policy(strict=strict):
        yield body


async def get_site_id(token: CurrentToken) -> str:
    """T2/T10: the site comes from the token, and only from it."""
    return token.site_id


ScimBody = Annotated[dict[str, Any], Depends(read_body)]
SiteId = Annotated[str, Depends(get_site_id)]

# Query and header parameters every resource endpoint takes (RFC 7644 §3.9, §3.14).
Attributes = Annotated[str | None, Query(alias="attributes")]
ExcludedAttributes = Annotated[str | None, Query(alias="excludedAttributes")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]


def not_modified(if_none_match: str | None, etag: str) -> Response | None:
    """304 with the ETag when If-None-Match names the current version (RFC 7232 §3.2).

    If-None-Match compares weakly: W/"3" and "3" are the same version, and
    ``*`` matches any current representation.
    """
    if if_none_match is None:
        return None
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    if "*" in wanted or etag.removeprefix("W/") in wanted:
        return Response(status_code=304, headers={"ETag": etag})
    return None
