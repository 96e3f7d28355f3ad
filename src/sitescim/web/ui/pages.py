"""Rendering the web UI's pages (web/errors.py renders its error pages with ``render``).

Every page is per user and may list what only a Promaster should see, so
nothing of the UI is kept by a browser or proxy cache (``no-store``); the page
that shows a new token's value relies on this most.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request, Response
from starlette.responses import RedirectResponse
from starlette.templating import Jinja2Templates

from sitescim.domain.clock import as_utc
from sitescim.web.deps import SESSION_COOKIE
from sitescim.web.ui.labels import ACTION_LABELS, PRIVILEGE_LABELS, SCOPE_LABELS

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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
        scope_labels=SCOPE_LABELS,
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
    values: dict[str, Any] = {
        "actor": None,
        "nav": None,
        "csrf": "",
        "site_name": "",
        "expiring_tokens": [],
    }
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
