"""Every exception becomes a response here, and only here (habit 1).

Under /scim/v2 clients get a SCIM Error body; under /api a small JSON body
``{"detail": ..., "field": ...}``. No traceback and no secret ever reaches a
client: unexpected errors are logged with the request id and answered with a
generic 500.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from sitescim.db.outages import outage_of, outages
from sitescim.domain.errors import (
    AuthenticationError,
    ConflictError,
    InsufficientScopeError,
    InvalidInputError,
    InvalidTokenError,
    NotFoundError,
    PermissionDeniedError,
    SitescimError,
)
from sitescim.web.responses import SCIMResponse

log = logging.getLogger(__name__)

_STATUS = (
    (InvalidInputError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
)
REALM = 'Bearer realm="sitescim"'


def _is_scim(request: Request) -> bool:
    return request.url.path.startswith("/scim/")


def _status_of(error: SitescimError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def _challenge(error: SitescimError) -> dict[str, str]:
    if isinstance(error, InvalidTokenError):
        if error.reason == "missing":
            return {"WWW-Authenticate": REALM}
        return {"WWW-Authenticate": f'{REALM}, error="invalid_token"'}
    if isinstance(error, InsufficientScopeError):
        return {"WWW-Authenticate": f'{REALM}, error="insufficient_scope"'}
    return {}


def scim_error(status: int, detail: str, *, scim_type: str | None = None, **kw: Any) -> Response:
    body = Error(status=status, scim_type=scim_type, detail=detail).model_dump()
    return SCIMResponse(body, status_code=status, **kw)


def api_error(status: int, detail: str, *, field: str | None = None, **kw: Any) -> Response:
    body: dict[str, Any] = {"detail": detail}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, **kw)


async def on_domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, SitescimError)
    status = _status_of(error)
    headers = _challenge(error) if _is_scim(request) else {}
    if _is_scim(request):
        scim_type = "invalidValue" if isinstance(error, InvalidInputError) else None
        if isinstance(error, ConflictError):
            scim_type = "uniqueness"
        return scim_error(status, str(error), scim_type=scim_type, headers=headers)
    if isinstance(error, InvalidInputError):
        return api_error(status, error.message, field=error.field)
    return api_error(status, str(error))


async def on_scim_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, SCIMException)
    body = error.to_error().model_dump()
    return SCIMResponse(body, status_code=int(body.get("status", 400)))


async def on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(location) or None
    kind = first.get("type", "")
    if kind == "json_invalid":
        message, field = "The request body is not valid JSON.", None
    elif kind == "missing":
        message = "is required"
    else:
        message = str(first.get("msg", "is not valid"))
    if _is_scim(request):
        scim_type = "invalidSyntax" if field is None else "invalidValue"
        detail = message if field is None else f"{field}: {message}"
        return scim_error(400, detail, scim_type=scim_type)
    return api_error(400, message, field=field)


async def on_pydantic_error(request: Request, error: Exception) -> Response:
    """A SCIM payload that fails its schema: the field and the rule, never the value."""
    assert isinstance(error, ValidationError)
    details = error.errors(include_url=False, include_input=False)
    loc: tuple[int | str, ...] = details[0]["loc"] if details else ()
    field = ".".join(str(part) for part in loc)
    context: dict[str, Any] = (details[0].get("ctx") or {}) if details else {}
    scim_type = str(context.get("scim_type") or "invalidValue")
    status = int(context.get("status") or 400)
    message = details[0]["msg"] if details else "is not valid"
    detail = f"{field}: {message}" if field else message
    if _is_scim(request):
        return scim_error(status, detail, scim_type=scim_type)
    return api_error(400, message, field=field or None)


async def on_http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else "Request refused."
    if _is_scim(request):
        scim_type = "tooLarge" if error.status_code == 413 else None
        return scim_error(error.status_code, detail, scim_type=scim_type, headers=error.headers)
    return api_error(error.status_code, detail, headers=error.headers)


async def on_unexpected(request: Request, error: Exception) -> Response:
    """Sent from outside every middleware, and the server then closes the connection:
    ``Connection: close`` tells a kept-alive client not to send its next request on it."""
    log.exception("unhandled error", extra={"path": request.url.path})
    detail = "An internal error occurred; it has been logged."
    headers = {"Connection": "close"}
    if _is_scim(request):
        return scim_error(500, detail, headers=headers)
    return api_error(500, detail, headers=headers)


UNAVAILABLE_DETAIL = "The database is unavailable for a moment; retry after the time given."
_DRIVER_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    psycopg.Error,
    sqlite3.Error,
)


async def on_database_error(request: Request, error: Exception) -> Response:
    """A database outage is 503 with Retry-After and one rate-limited log line
    (db.outages); any other driver error is a bug, answered as one."""
    outage = outage_of(error)
    if outage is None:
        return await on_unexpected(request, error)
    if not _is_scim(request) and not request.url.path.startswith("/api/"):
        from sitescim.web.ui.pages import error_page

        return await error_page(request, error)  # notes the outage itself
    outages.note(outage, error)
    headers = {"Retry-After": str(outage.retry_after_seconds)}
    if _is_scim(request):
        return scim_error(503, UNAVAILABLE_DETAIL, headers=headers)
    return api_error(503, UNAVAILABLE_DETAIL, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SitescimError, on_domain_error)
    app.add_exception_handler(SCIMException, on_scim_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ValidationError, on_pydantic_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    for driver_error in _DRIVER_ERRORS:
        app.add_exception_handler(driver_error, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
