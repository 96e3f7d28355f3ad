"""Every exception becomes a response here, and only here (habit 1).

Under /scim/v2 clients get a SCIM Error body; under /api a small JSON body
``{"detail": ..., "field": ...}``; the web UI's pages an HTML page (or, for a
signed-out visitor, a redirect to the sign-in page). No traceback and no secret
ever reaches a client: unexpected errors are logged with the request id and
answered with a generic 500.

Routes of the UI use ``PageRoute``, so an error raised by a handler or one of
its dependencies becomes a page instead of the JSON body the API answers with.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool
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
    SignInThrottledError,
    SitescimError,
)
from sitescim.services import directory, sessions
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.deps import SESSION_COOKIE
from sitescim.web.responses import SCIMResponse
from sitescim.web.ui.csrf import CsrfError, session_token
from sitescim.web.ui.deps import SignInRequiredError
from sitescim.web.ui.pages import render, sign_in_redirect

log = logging.getLogger(__name__)

REALM = 'Bearer realm="sitescim"'
UNAVAILABLE_MESSAGE = "The service cannot reach its database right now; try again in a few seconds."
_PAGE_TITLES: tuple[tuple[type[Exception], str], ...] = (
    (CsrfError, "This form has expired"),
    (PermissionDeniedError, "Not allowed"),
    (NotFoundError, "Not found"),
    (ConflictError, "Not possible right now"),
    (InvalidInputError, "Check the request"),
)


def _is_scim(request: Request) -> bool:
    return request.url.path.startswith("/scim/")


def _is_page(request: Request) -> bool:
    return not _is_scim(request) and not request.url.path.startswith("/api/")


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


def describe_refusal(error: SitescimError) -> tuple[int, str, str | None]:
    """Status, message and field of a form's refusal, shown beside the form or to its dialog."""
    if isinstance(error, InvalidInputError):
        return error.status, error.message, error.field
    return error.status, str(error), None


async def on_domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, SitescimError)
    status = error.status
    headers = _challenge(error) if _is_scim(request) else {}
    if isinstance(error, SignInThrottledError):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if _is_scim(request):
        return scim_error(status, str(error), scim_type=error.scim_type, headers=headers)
    if isinstance(error, InvalidInputError):
        return api_error(status, error.message, field=error.field)
    return api_error(status, str(error), headers=headers or None)


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
    if _is_page(request):
        return await error_page(request, error)  # notes the outage itself
    outages.note(outage, error)
    headers = {"Retry-After": str(outage.retry_after_seconds)}
    if _is_scim(request):
        return scim_error(503, UNAVAILABLE_DETAIL, headers=headers)
    return api_error(503, UNAVAILABLE_DETAIL, headers=headers)


def _signed_in_frame(request: Request) -> dict[str, Any]:
    """The header of a signed-in visitor's error page; nothing if that cannot be known."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return {}
    runtime: Runtime = request.app.state.runtime
    settings: Settings = request.app.state.settings
    try:
        with runtime.db.transaction(write=False) as session:
            actor = sessions.resume(session, runtime, value)
            profile = directory.profile_of(session, actor)
    except Exception:  # the error page must render whatever else is wrong
        return {}
    return {"actor": profile, "csrf": session_token(settings.session_secret_value(), value)}


def _describe_for_page(request: Request, error: Exception) -> tuple[int, str, str]:
    if outage_of(error) is not None:
        return 503, "Try again in a moment", UNAVAILABLE_MESSAGE
    for kind, title in _PAGE_TITLES:
        if isinstance(error, kind):
            status = error.status if isinstance(error, SitescimError) else 403
            return status, title, str(error)
    if isinstance(error, RequestValidationError):
        return 400, "Check the request", "A value is missing or not valid."
    if isinstance(error, StarletteHTTPException):
        detail = error.detail if isinstance(error.detail, str) else "The request was refused."
        return error.status_code, "Request refused", detail
    log.error("unhandled error in a page", exc_info=error, extra={"path": request.url.path})
    return 500, "Something went wrong", "An internal error occurred; it is logged."


async def error_page(request: Request, error: Exception) -> Response:
    status, title, message = _describe_for_page(request, error)
    context: dict[str, Any] = {"title": title, "message": message, "status": status}
    outage = outage_of(error)
    if outage is not None:
        outages.note(outage, error)
    else:
        context.update(await run_in_threadpool(_signed_in_frame, request))
    response = render(request, "error.html", context, status_code=status)
    if outage is not None:
        response.headers["Retry-After"] = str(outage.retry_after_seconds)
    return response


class PageRoute(APIRoute):
    """A route whose errors are pages, whichever dependency or handler raised them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequiredError:
                return sign_in_redirect(request)
            except AuthenticationError:
                return sign_in_redirect(request, ended=SESSION_COOKIE in request.cookies)
            except Exception as error:
                return await error_page(request, error)

        return handle


def install(app: FastAPI) -> None:
    app.add_exception_handler(SitescimError, on_domain_error)
    app.add_exception_handler(SCIMException, on_scim_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ValidationError, on_pydantic_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    for driver_error in _DRIVER_ERRORS:
        app.add_exception_handler(driver_error, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
