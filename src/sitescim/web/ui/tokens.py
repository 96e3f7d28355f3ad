"""My Profile's access tokens: the form for a new one, its creation, and revocation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse

from sitescim.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from sitescim.domain.privileges import Actor
from sitescim.domain.tokens import DESCRIPTION_MAX, SCOPES, TokenStatus
from sitescim.services import tokens as token_service
from sitescim.web.deps import ClientAddress, RuntimeDep
from sitescim.web.errors import PageRoute, describe_refusal
from sitescim.web.ui.deps import Page, PageDep, VerifiedForm, read_field
from sitescim.web.ui.pages import NO_STORE

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def load_token_table(
    session: Session, runtime: RuntimeDep, actor: Actor, address: str | None
) -> dict[str, Any]:
    """The site's tokens, and the visitor's own active one, for My Profile's token table."""
    if not actor.is_promaster:
        return {"tokens": [], "own_active": None}
    views = token_service.list_tokens(session, runtime, actor, address=address)
    own_active = next(
        (
            view
            for view in views
            if view.created_by_id == actor.user_id and view.status is TokenStatus.ACTIVE
        ),
        None,
    )
    return {"tokens": views, "own_active": own_active}


def _new_token_page(
    page: Page,
    runtime: RuntimeDep,
    address: str | None,
    *,
    status_code: int = 200,
    error: str | None = None,
    field: str | None = None,
    description: str = "",
) -> Response:
    if not page.actor.is_promaster:
        raise PermissionDeniedError("Only the site's Promasters may manage SCIM access tokens.")
    context = page.frame("profile")
    context.update(load_token_table(page.session, runtime, page.actor, address))
    context.update(
        scopes=list(SCOPES.values()),
        description_max=DESCRIPTION_MAX,
        form_error=error,
        error_field=field,
        description=description,
    )
    return page.render("token_new.html", context, status_code=status_code)


@router.get("/profile/tokens/new")
def new_token(page: PageDep, runtime: RuntimeDep, address: ClientAddress) -> Response:
    return _new_token_page(page, runtime, address)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/profile/tokens")
def create_token(
    form: VerifiedForm, page: PageDep, runtime: RuntimeDep, address: ClientAddress
) -> Response:
    """The one response that carries the value: as a page, or as JSON for the dialog."""
    description = read_field(form, "description")
    as_json = _wants_json(page.request)
    try:
        issued = token_service.issue_token(
            page.session,
            runtime,
            page.actor,
            description=description,
            scope=read_field(form, "scope") or "scim",
            address=address,
        )
    except (InvalidInputError, ConflictError, PermissionDeniedError) as error:
        status, message, field = describe_refusal(error)
        if as_json:
            refusal = {"detail": message, "field": field}
            return JSONResponse(refusal, status_code=status, headers=NO_STORE)
        if isinstance(error, PermissionDeniedError):
            raise
        return _new_token_page(
            page,
            runtime,
            address,
            status_code=status,
            error=message,
            field=field,
            description=description[:DESCRIPTION_MAX],
        )
    days = (issued.expires_at - issued.created_at).days
    if as_json:
        body: dict[str, Any] = {
            "id": issued.id,
            "token": issued.value,
            "description": issued.description,
            "scope": SCOPES[issued.scope].label,
            "expires_at": issued.expires_at.isoformat(),
            "expires_on": issued.expires_at.strftime("%Y-%m-%d"),
            "days_left": days,
        }
        return JSONResponse(body, status_code=201, headers=NO_STORE)
    context = page.frame("profile")
    context.update(issued=issued, scope_label=SCOPES[issued.scope].label, days_left=days)
    return page.render("token_created.html", context, status_code=201)


def _token_of_site(
    session: Session, runtime: RuntimeDep, actor: Actor, token_id: str, address: str | None
) -> token_service.TokenView:
    views = token_service.list_tokens(session, runtime, actor, address=address)
    found = next((view for view in views if view.id == token_id), None)
    if found is None:
        raise NotFoundError("No such token in this site.")
    return found


@router.get("/profile/tokens/{token_id}/revoke")
def confirm_revoke(
    token_id: str, page: PageDep, runtime: RuntimeDep, address: ClientAddress
) -> Response:
    context = page.frame("profile")
    context["token"] = _token_of_site(page.session, runtime, page.actor, token_id, address)
    return page.render("token_revoke.html", context)


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(
    token_id: str, form: VerifiedForm, page: PageDep, runtime: RuntimeDep, address: ClientAddress
) -> Response:
    view = token_service.revoke_token(page.session, runtime, page.actor, token_id, address=address)
    target = f"/profile?revoked={view.id}#tokens"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)
