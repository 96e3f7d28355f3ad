"""Local password sign-in for the management API; the web UI shares its sessions.

The cookie carries a random session value; the server keeps its hash
(services/sessions.py), so signing out ends the session everywhere.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from sitescim.domain.privileges import Actor
from sitescim.services import sessions
from sitescim.web.api.schemas import Me, SignInBody
from sitescim.web.deps import (
    SESSION_COOKIE,
    ClientAddress,
    CurrentActor,
    JsonBody,
    RateLimitsDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    clear_session_cookie,
    set_session_cookie,
)

router = APIRouter(prefix="/session", tags=["session"])


def _me(actor: Actor) -> Me:
    return Me(
        id=actor.user_id,
        site_id=actor.site_id,
        email=actor.label,
        privilege=actor.privilege.value,
        may_manage_tokens=actor.is_promaster,
    )


@router.post("", dependencies=[JsonBody])
async def sign_in(
    body: SignInBody,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
    limits: RateLimitsDep,
) -> Me:
    """Start a new session (any session the client presented ends); 429 when braked
    or over the rate limit (checked on the event loop, before a thread is taken)."""
    await limits.check_sign_in(site=body.site, email=body.email, address=address)
    started = await run_in_threadpool(
        sessions.sign_in,
        runtime,
        site_slug=body.site,
        email=body.email,
        password=body.password,
        lifetime=timedelta(seconds=settings.session_max_age_seconds),
        presented=request.cookies.get(SESSION_COOKIE),
        address=address,
    )
    set_session_cookie(response, started, settings)
    return _me(started.actor)


@router.get("")
def whoami(actor: CurrentActor) -> Me:
    return _me(actor)


@router.delete("", status_code=204)
def sign_out(
    request: Request, session: SessionDep, runtime: RuntimeDep, settings: SettingsDep
) -> Response:
    sessions.sign_out(session, runtime, request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    clear_session_cookie(response, settings)
    return response
