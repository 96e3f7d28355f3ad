"""Dependencies the routers declare through ``Annotated`` aliases (habit 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session

from sitescim.domain import documents
from sitescim.domain.privileges import Actor
from sitescim.services import sessions
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.ratelimits import RateLimits

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = ("application/json", "application/scim+json")
SESSION_COOKIE = "sitescim_session"


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


MAX_ADDRESS_LENGTH = 64


def client_address(request: Request) -> str | None:
    """The client's address, as stored in audit rows and sessions (64 characters).

    Behind a trusted proxy uvicorn takes it from ``X-Forwarded-For``, which may hold
    any text: it is cut to the column (an IP address, even IPv6, always fits).
    """
    client = request.client
    return None if client is None else client.host[:MAX_ADDRESS_LENGTH]


async def get_client_address(request: Request) -> str | None:
    return client_address(request)


async def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientAddress = Annotated[str | None, Depends(get_client_address)]


def open_transaction(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    """The request owns the transaction; it commits before the response is sent."""
    with runtime.db.transaction(write=request.method not in READ_METHODS) as session:
        yield session


SessionDep = Annotated[Session, Depends(open_transaction, scope="function")]


def current_actor(request: Request, session: SessionDep, runtime: RuntimeDep) -> Actor:
    """The session cookie's user, looked up by the value's hash on every request."""
    return sessions.resume(session, runtime, request.cookies.get(SESSION_COOKIE))


CurrentActor = Annotated[Actor, Depends(current_actor)]


def set_session_cookie(
    response: Response, started: sessions.StartedSession, settings: Settings
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        started.value,
        max_age=settings.session_max_age_seconds,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=settings.cookie_secure, httponly=True, samesite="strict"
    )


async def require_json(request: Request) -> None:
    """JSON only, and no document that would break a later step (domain.documents).

    FastAPI has parsed the body before dependencies run; ``json()`` returns that parse.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise HTTPException(415, "Send the request body as application/json.")
    raw = await request.body()
    if raw:
        documents.check_document(await request.json(), raw=raw)


JsonBody = Depends(require_json)
