"""Rendering the web UI's pages, and turning the UI's errors into pages.

Every page is per user and may list what only a Promaster should see, so
nothing of the UI is kept by a browser or proxy cache (``no-store``); the page
that shows a new token's value relies on this most.

Routes of the UI use ``PageRoute``: an error raised by a handler or one of its
dependencies becomes an HTML page (or, for a signed-out visitor, a redirect to
the sign-in page) instead of the JSON body the management API answers with.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse
from starlette.templating import Jinja2Templates

from sitescim.db.outages import outage_of, outages
from sitescim.domain.actions import Action
from sitescim.domain.clock import as_utc
from sitescim.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from sitescim.domain.tokens import SCOPES
from sitescim.services import directory, sessions
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.deps import SESSION_COOKIE
from sitescim.web.ui.csrf import CsrfError, session_token

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
UNAVAILABLE_MESSAGE = "The service cannot reach its database right now; try again in a few seconds."

ACTION_LABELS: dict[Action, str] = {
    Action.TOKEN_CREATE: "Token created",
    Action.TOKEN_REVOKE: "Token revoked",
    Action.TOKEN_LIST: "Token list read",
    Action.AUTH_FAILED: "Authentication failed",
    Action.SESSION_SIGN_IN: "Signed in",
    Action.SCIM_USER_CREATE: "User created",
    Action.SCIM_USER_REPLACE: "User replaced",
    Action.SCIM_USER_PATCH: "User changed",
    Action.SCIM_USER_DEACTIVATE: "User deactivated",
    Action.SCIM_USER_DELETE: "User deleted",
    Action.SCIM_GROUP_CREATE: "Group created",
    Action.SCIM_GROUP_REPLACE: "Group replaced",
    Action.SCIM_GROUP_PATCH: "Group changed",
    Action.SCIM_GROUP_DELETE: "Group deleted",
    Action.SCIM_BULK: "Bulk request",
}
PRIVILEGE_LABELS = {
    "promaster": "Promaster",
    "business_analyst": "Business analyst",
    "user": "User",
}


class SignInRequiredError(Exception):
    """Raised by pages that need a signed-in visitor; becomes a redirect to sign in."""


def format_moment(moment: datetime | None) -> str:
    """UTC, to the minute: the service runs for sites in every time zone."""
    if moment is None:
        return ""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def format_day(moment: datetime | None) -> str:
    return "" if moment is None else as_utc(moment).strftime("%Y-%m-%d")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else as_utc(moment).isoformat()


@cache
def _asset_version(name: str) -> str:
    """A content hash in the asset's URL, so a changed file is never served stale."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{name}?v={_asset_version(name)}"


def query(**params: Any) -> str:
    """A query string of the given non-empty parameters, for paging and filter links."""
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(moment=format_moment, day=format_day, iso=iso)
    env.globals.update(
        static=static_url,
        query=query,
        action_labels=ACTION_LABELS,
        privilege_labels=PRIVILEGE_LABELS,
        scope_labels={scope.name: scope.label for scope in SCOPES.values()},
    )
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    values: dict[str, Any] = {"actor": None, "nav": None, "csrf": "", "site_name": ""}
    values.update(context or {})
    return templates.TemplateResponse(
        request, name, values, status_code=status_code, headers=NO_STORE
    )


def sign_in_redirect(request: Request, *, ended: bool = False) -> Response:
    """Back to the sign-in page, remembering where a GET was going."""
    params: dict[str, str] = {}
    if request.method == "GET" and request.url.path not in ("/", "/sign-in"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params["next"] = target
    if ended:
        params["ended"] = "1"
    response = RedirectResponse("/sign-in" + query(**params), status_code=303, headers=NO_STORE)
    if ended:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


_ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (CsrfError, 403, "This form has expired"),
    (PermissionDeniedError, 403, "Not allowed"),
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Not possible right now"),
    (InvalidInputError, 400, "Check the request"),
)


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


def _describe(request: Request, error: Exception) -> tuple[int, str, str]:
    if outage_of(error) is not None:
        return 503, "Try again in a moment", UNAVAILABLE_MESSAGE
    for kind, status, title in _ERROR_STATUS:
        if isinstance(error, kind):
            return status, title, str(error)
    if isinstance(error, RequestValidationError):
        return 400, "Check the request", "A value is missing or not valid."
    if isinstance(error, HTTPException):
        detail = error.detail if isinstance(error.detail, str) else "The request was refused."
        return error.status_code, "Request refused", detail
    log.error("unhandled error in a page", exc_info=error, extra={"path": request.url.path})
    return 500, "Something went wrong", "An internal error occurred; it is logged."


async def error_page(request: Request, error: Exception) -> Response:
    status, title, message = _describe(request, error)
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
