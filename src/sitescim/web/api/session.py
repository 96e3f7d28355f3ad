"""Local password sign-in for the management API (and, later, the web UI)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sitescim.domain.privileges import Actor
from sitescim.services import sites
from sitescim.web.api.schemas import Me, SignInBody
from sitescim.web.deps import (
    SESSION_SITE,
    SESSION_USER,
    CurrentActor,
    JsonBody,
    RuntimeDep,
    SessionDep,
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
def sign_in(body: SignInBody, request: Request, session: SessionDep, runtime: RuntimeDep) -> Me:
    """Start a session; the cookie carries only the signed user and site ids."""
    actor = sites.sign_in(
        session, runtime, site_slug=body.site, email=body.email, password=body.password
    )
    request.session.clear()
    request.session.update({SESSION_USER: actor.user_id, SESSION_SITE: actor.site_id})
    return _me(actor)


@router.get("")
def whoami(actor: CurrentActor) -> Me:
    return _me(actor)


@router.delete("", status_code=204)
def sign_out(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=204)
