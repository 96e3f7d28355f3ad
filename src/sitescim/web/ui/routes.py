"""The web UI's pages: sign in, My Profile and its access tokens, people, groups, activity.

Handlers are thin: they read the form or query, call a service, and render a
page. Every page works without JavaScript; ``static/app.js`` only upgrades the
create and delete steps into dialogs and adds the Copy button.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse

from sitescim.db.models import MAX_ROW_ID
from sitescim.domain import documents
from sitescim.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from sitescim.domain.privileges import Actor
from sitescim.domain.tokens import DESCRIPTION_MAX, SCOPES, TokenStatus
from sitescim.services import directory, sessions
from sitescim.services import tokens as token_service
from sitescim.services.activity import ACTIVITY_KINDS, list_activity
from sitescim.settings import Settings
from sitescim.web.deps import (
    SESSION_COOKIE,
    ClientAddress,
    RateLimitsDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    clear_session_cookie,
    set_session_cookie,
)
from sitescim.web.ratelimits import RateLimitedError
from sitescim.web.ui import csrf
from sitescim.web.ui.pages import NO_STORE, PageRoute, SignInRequiredError, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

GENERIC_SIGN_IN_FAILURE = "The site, e-mail or password is not correct."
FIELD_LIMITS = {"site": 63, "email": 320, "password": 1024, "next": 2048}


# Who is asking, and their forms


def page_actor(request: Request, session: SessionDep, runtime: RuntimeDep) -> Actor:
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        raise SignInRequiredError()
    return sessions.resume(session, runtime, value)


PageActor = Annotated[Actor, Depends(page_actor)]


def _form_token(request: Request, settings: Settings) -> str:
    return csrf.session_token(settings.session_secret_value(), request.cookies[SESSION_COOKIE])


async def verified_form(request: Request, settings: SettingsDep) -> FormData:
    """The form of a signed-in visitor, once its CSRF token and origin are checked."""
    if not request.cookies.get(SESSION_COOKIE):
        raise SignInRequiredError()
    csrf.check_origin(request)
    form = _storable(await request.form())
    csrf.verify(_form_token(request, settings), form.get(csrf.FIELD))
    return form


def _storable(form: FormData) -> FormData:
    """No field of any form may carry a NUL, which PostgreSQL cannot take even in a query."""
    for name, value in form.multi_items():
        documents.check_text(name, name)
        if isinstance(value, str):
            documents.check_text(name, value)
    return form


VerifiedForm = Annotated[FormData, Depends(verified_form)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _frame(
    request: Request, session: Session, actor: Actor, settings: Settings, nav: str
) -> dict[str, Any]:
    """What every signed-in page's header and forms need."""
    return {
        "actor": directory.profile_of(session, actor),
        "csrf": _form_token(request, settings),
        "nav": nav,
    }


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/profile"
    return target


def _scim_base_url(request: Request, settings: Settings) -> str:
    base = settings.public_base_url or str(request.base_url)
    return base.rstrip("/") + "/scim/v2"


# Signing in and out


@router.get("/")
def home(request: Request) -> Response:
    target = "/profile" if request.cookies.get(SESSION_COOKIE) else "/sign-in"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _sign_in_page(
    request: Request,
    settings: Settings,
    *,
    status_code: int = 200,
    error: str | None = None,
    site: str = "",
    email: str = "",
    next_path: str = "",
    notice: str | None = None,
) -> Response:
    nonce = request.cookies.get(csrf.SIGN_IN_COOKIE) or ""
    if not 20 <= len(nonce) <= 64:
        nonce = csrf.new_sign_in_nonce()
    response = render(
        request,
        "sign_in.html",
        {
            "csrf": csrf.sign_in_token(settings.session_secret_value(), nonce),
            "error": error,
            "notice": notice,
            "site": site,
            "email": email,
            "next_path": next_path,
        },
        status_code=status_code,
    )
    response.set_cookie(
        csrf.SIGN_IN_COOKIE,
        nonce,
        max_age=csrf.SIGN_IN_COOKIE_MAX_AGE,
        path="/sign-in",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/sign-in")
def sign_in_form(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    site: Annotated[str, Query(max_length=63)] = "",
    next_path: Annotated[str, Query(alias="next", max_length=2048)] = "",
    ended: Annotated[str, Query(max_length=1)] = "",
    signed_out: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    try:
        sessions.resume(session, runtime, request.cookies.get(SESSION_COOKIE))
    except AuthenticationError:
        pass
    else:
        return RedirectResponse(_safe_next(next_path), status_code=303, headers=NO_STORE)
    notice = None
    if signed_out:
        notice = "You have signed out."
    elif ended:
        notice = "Your session has ended. Sign in again."
    return _sign_in_page(request, settings, site=site, next_path=next_path, notice=notice)


async def read_form(request: Request) -> FormData:
    return _storable(await request.form())


@router.post("/sign-in")
async def sign_in(
    request: Request,
    form: Annotated[FormData, Depends(read_form)],
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
    limits: RateLimitsDep,
) -> Response:
    """A new session on success; the form again, with one generic message, on failure."""
    fields = {name: _text(form, name) for name in FIELD_LIMITS}
    keep = {
        "site": fields["site"][:63],
        "email": fields["email"][:320],
        "next_path": fields["next"],
    }
    nonce = request.cookies.get(csrf.SIGN_IN_COOKIE)
    try:
        csrf.check_origin(request)
        expected = csrf.sign_in_token(settings.session_secret_value(), nonce) if nonce else None
        csrf.verify(expected, form.get(csrf.FIELD))
    except csrf.CsrfError:
        message = "The sign-in form had expired. Please sign in again."
        return _sign_in_page(request, settings, status_code=403, error=message, **keep)
    if any(len(fields[name]) > limit for name, limit in FIELD_LIMITS.items()):
        message = "A field is longer than any valid value."
        return _sign_in_page(request, settings, status_code=400, error=message, **keep)
    try:
        await limits.check_sign_in(site=keep["site"], email=keep["email"], address=address)
        started = await run_in_threadpool(
            sessions.sign_in,
            runtime,
            site_slug=fields["site"].strip().lower(),
            email=fields["email"].strip(),
            password=fields["password"],
            lifetime=timedelta(seconds=settings.session_max_age_seconds),
            presented=request.cookies.get(SESSION_COOKIE),
            address=address,
        )
    except (sessions.SignInThrottledError, RateLimitedError) as error:
        message = (
            str(error)
            if isinstance(error, sessions.SignInThrottledError)
            else "Too many sign-in attempts. Wait a minute and try again."
        )
        response = _sign_in_page(request, settings, status_code=429, error=message, **keep)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    except AuthenticationError:
        return _sign_in_page(
            request, settings, status_code=401, error=GENERIC_SIGN_IN_FAILURE, **keep
        )
    response = RedirectResponse(_safe_next(fields["next"]), status_code=303, headers=NO_STORE)
    set_session_cookie(response, started, settings)
    response.delete_cookie(csrf.SIGN_IN_COOKIE, path="/sign-in", httponly=True, samesite="strict")
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    form: VerifiedForm,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    sessions.sign_out(session, runtime, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303, headers=NO_STORE)
    clear_session_cookie(response, settings)
    return response


# My Profile and its access tokens


def _token_context(
    session: Session, runtime: RuntimeDep, actor: Actor, address: str | None
) -> dict[str, Any]:
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


@router.get("/profile")
def profile(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
    revoked: Annotated[str, Query(max_length=36)] = "",
    created: Annotated[str, Query(max_length=36)] = "",
) -> Response:
    """``revoked``/``created`` name a token just changed, for a notice (never its value)."""
    context = _frame(request, session, actor, settings, "profile")
    context.update(_token_context(session, runtime, actor, address))
    by_id = {view.id: view for view in context["tokens"]}
    context.update(
        scopes=list(SCOPES.values()),
        scim_base_url=_scim_base_url(request, settings),
        revoked=by_id.get(revoked),
        created=by_id.get(created),
        description_max=DESCRIPTION_MAX,
        form_error=None,
        description="",
    )
    return render(request, "profile.html", context)


def _new_token_page(
    request: Request,
    actor: Actor,
    session: Session,
    runtime: RuntimeDep,
    settings: Settings,
    address: str | None,
    *,
    status_code: int = 200,
    error: str | None = None,
    field: str | None = None,
    description: str = "",
) -> Response:
    if not actor.is_promaster:
        raise PermissionDeniedError("Only the site's Promasters may manage SCIM access tokens.")
    context = _frame(request, session, actor, settings, "profile")
    context.update(_token_context(session, runtime, actor, address))
    context.update(
        scopes=list(SCOPES.values()),
        description_max=DESCRIPTION_MAX,
        form_error=error,
        error_field=field,
        description=description,
    )
    return render(request, "token_new.html", context, status_code=status_code)


@router.get("/profile/tokens/new")
def new_token(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> Response:
    return _new_token_page(request, actor, session, runtime, settings, address)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/profile/tokens")
def create_token(
    request: Request,
    form: VerifiedForm,
    actor: PageActor,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> Response:
    """The one response that carries the value: as a page, or as JSON for the dialog."""
    description = _text(form, "description")
    as_json = _wants_json(request)
    try:
        issued = token_service.issue_token(
            session,
            runtime,
            actor,
            description=description,
            scope=_text(form, "scope") or "scim",
            address=address,
        )
    except (InvalidInputError, ConflictError, PermissionDeniedError) as error:
        status = (
            400
            if isinstance(error, InvalidInputError)
            else 409
            if isinstance(error, ConflictError)
            else 403
        )
        field = error.field if isinstance(error, InvalidInputError) else None
        message = error.message if isinstance(error, InvalidInputError) else str(error)
        if as_json:
            refusal = {"detail": message, "field": field}
            return JSONResponse(refusal, status_code=status, headers=NO_STORE)
        if isinstance(error, PermissionDeniedError):
            raise
        return _new_token_page(
            request,
            actor,
            session,
            runtime,
            settings,
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
    context = _frame(request, session, actor, settings, "profile")
    context.update(issued=issued, scope_label=SCOPES[issued.scope].label, days_left=days)
    return render(request, "token_created.html", context, status_code=201)


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
    token_id: str,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> Response:
    context = _frame(request, session, actor, settings, "profile")
    context["token"] = _token_of_site(session, runtime, actor, token_id, address)
    return render(request, "token_revoke.html", context)


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(
    token_id: str,
    form: VerifiedForm,
    actor: PageActor,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
) -> Response:
    view = token_service.revoke_token(session, runtime, actor, token_id, address=address)
    target = f"/profile?revoked={view.id}#tokens"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


# People, groups and activity (read-only, Promasters)


@router.get("/people")
def people(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str, Query(max_length=2048)] = "",
    before: Annotated[str, Query(max_length=2048)] = "",
) -> Response:
    context = _frame(request, session, actor, settings, "people")
    context["page"] = directory.list_people(
        session,
        actor,
        cursor_key=settings.cursor_key(),
        search=q,
        after=after or None,
        before=before or None,
    )
    return render(request, "people.html", context)


@router.get("/people/{user_id}")
def person(
    user_id: str, request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    context = _frame(request, session, actor, settings, "people")
    context["person"] = directory.get_person(session, actor, user_id)
    return render(request, "person.html", context)


@router.get("/groups")
def groups(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str, Query(max_length=2048)] = "",
    before: Annotated[str, Query(max_length=2048)] = "",
) -> Response:
    context = _frame(request, session, actor, settings, "groups")
    context["page"] = directory.list_groups(
        session,
        actor,
        cursor_key=settings.cursor_key(),
        search=q,
        after=after or None,
        before=before or None,
    )
    return render(request, "groups.html", context)


@router.get("/groups/{group_id}")
def group(
    group_id: str,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    after: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    context = _frame(request, session, actor, settings, "groups")
    context["group"] = directory.get_group(session, actor, group_id, after=after)
    return render(request, "group.html", context)


@router.get("/activity")
def activity(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Query(max_length=32)] = "",
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    context = _frame(request, session, actor, settings, "activity")
    context["page"] = list_activity(
        session, actor, kind=kind or None, since=since, until=until, before=before
    )
    context["kinds"] = ACTIVITY_KINDS
    return render(request, "activity.html", context)
