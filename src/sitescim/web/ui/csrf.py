"""CSRF protection for the UI's forms, on top of SameSite=Strict cookies.

A signed-in form carries an HMAC of the session's value under the session
secret: a new one at every sign-in, and nothing stored. The sign-in form,
before any session exists, is tied the same way to a random value in a
short-lived cookie of its own (login CSRF). A browser that says a request
comes from another site (``Sec-Fetch-Site``) is refused whatever it carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

FIELD = "csrf"
SIGN_IN_COOKIE = "sitescim_signin"
SIGN_IN_COOKIE_MAX_AGE = 3600
_FOREIGN_SITES = frozenset({"cross-site", "same-site"})


class CsrfError(Exception):
    """A form without a valid token, or sent from another site."""

    def __init__(self) -> None:
        super().__init__(
            "The form could not be accepted: it has expired or was not sent from this site. "
            "Go back, reload the page and try again."
        )


def _mac(secret: str, purpose: str, value: str) -> str:
    message = f"{purpose}|{value}".encode("utf-8", "replace")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def session_token(secret: str, session_value: str) -> str:
    return _mac(secret, "session", session_value)


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(32)


def sign_in_token(secret: str, nonce: str) -> str:
    return _mac(secret, "sign-in", nonce)


def check_origin(request: Request) -> None:
    if request.headers.get("sec-fetch-site", "").lower() in _FOREIGN_SITES:
        raise CsrfError()


def verify(expected: str | None, given: object) -> None:
    """Constant-time comparison; a missing side is a failure, never a pass."""
    if not expected or not isinstance(given, str) or not given:
        raise CsrfError()
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise CsrfError()
