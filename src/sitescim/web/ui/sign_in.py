"""Signing in and out of the web UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from sitescim.domain.errors import AuthenticationError, SignInThrottledError
from sitescim.services import sessions
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
from sitescim.web.errors import PageRoute
from sitescim.web.ratelimits import RateLimitedError
from sitescim.web.ui import csrf
from sitescim.web.ui.deps import SignInForm, VerifiedForm, read_field
from sitescim.web.ui.pages import NO_STORE, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

GENERIC_SIGN_IN_FAILURE = "The site, e-mail or password is not correct."
FIELD_LIMITS = {"site": 63, "email": 320, "password": 1024, "next": 2048}


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/profile"
    return target


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


@router.post("/sign-in")
async def sign_in(
    request: Request,
    form: SignInForm,
    runtime: RuntimeDep,
    settings: SettingsDep,
    address: ClientAddress,
    limits: RateLimitsDep,
) -> Response:
    """A new session on success; the form again, with one generic message, on failure."""
    fields = {name: read_field(form, name) for name in FIELD_LIMITS}
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
    except (SignInThrottledError, RateLimitedError) as error:
        message = (
            str(error)
            if isinstance(error, SignInThrottledError)
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
