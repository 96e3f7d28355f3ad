"""The OpenAPI of /api/v1 says which errors each operation really answers.

FastAPI documents a 422 validation error on every operation with parameters;
this API answers 400 with ``{"detail", "field"}`` instead (web/errors.py), and
401, 403, 404, 409, 413, 415 or 429 where its rules say so. The table below is
the one place that lists them, so clients and schemathesis (tests/fuzz) read
the responses the service gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

ERROR_SCHEMA = "ApiError"
_MEANINGS = {
    400: "A parameter or the body breaks a rule; `field` names it.",
    401: "Not signed in (no session, or it ended), the sign-in failed, or (events, sites, "
    "webhooks) no valid operator API key.",
    403: "Signed in, but only the site's Promasters may do this.",
    404: "No such resource in this site, or a site the operator key does not read.",
    409: "The state forbids it (one active token per Promaster: revoke it first).",
    413: "The body is larger than the configured limit.",
    415: "The body is not application/json.",
    429: "Too many failed sign-ins; `Retry-After` says when to try again.",
}
_BODY = (400, 413, 415)
ERRORS: Mapping[tuple[str, str], tuple[int, ...]] = {
    ("post", "/api/v1/session"): (*_BODY, 401, 429),
    ("get", "/api/v1/session"): (401,),
    ("delete", "/api/v1/session"): (),
    ("get", "/api/v1/token-scopes"): (),
    ("get", "/api/v1/tokens"): (401, 403),
    ("post", "/api/v1/tokens"): (*_BODY, 401, 403, 409),
    ("delete", "/api/v1/tokens/{token_id}"): (400, 401, 403, 404),
    ("get", "/api/v1/audit"): (400, 401, 403),
    ("get", "/api/v1/events"): (400, 401, 404),
    ("get", "/api/v1/sites"): (401,),
    ("get", "/api/v1/sites/{slug}/users"): (400, 401, 404),
    ("get", "/api/v1/sites/{slug}/groups"): (400, 401, 404),
    ("get", "/api/v1/sites/{slug}/groups/{group_id}/members"): (400, 401, 404),
    # Webhooks, for an operator key: 401 without a valid one, 404 outside its sites.
    ("get", "/api/v1/webhooks"): (401,),
    ("post", "/api/v1/webhooks"): (*_BODY, 401, 404),
    ("delete", "/api/v1/webhooks/{endpoint_id}"): (400, 401, 404),
    ("post", "/api/v1/webhooks/{endpoint_id}/resume"): (400, 401, 404),
    ("get", "/api/v1/webhooks/{endpoint_id}/deliveries"): (400, 401, 404),
    ("get", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/attempts"): (400, 401, 404),
    ("post", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): (
        400,
        401,
        404,
    ),
}


class ApiError(BaseModel):
    """Every error of the JSON API: what went wrong, and the field when one is to blame."""

    detail: str
    field: str | None = None


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _MEANINGS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's 422 with the errors of ``ERRORS`` (400 where it is unlisted)."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            had_validation = responses.pop("422", None) is not None
            statuses = ERRORS.get((method, path), (400,) if had_validation else ())
            for status in statuses:
                responses.setdefault(str(status), _error_response(status))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components[ERROR_SCHEMA] = ApiError.model_json_schema()
    return schema


def install(app: FastAPI) -> None:
    """FastAPI's documented way to extend its OpenAPI: build it once, then amend it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            app.openapi_schema = document_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
