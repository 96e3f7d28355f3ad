"""Signed-in sessions for the web UI and the management API, and the sign-in brake.

A session is a random 256-bit value in an HttpOnly cookie; the database keeps
only its SHA-256 (a full-entropy secret needs no key or slow hash), so a copy
of the table signs no one in. Every sign-in issues a new value and drops any
value the browser presented (no fixation); signing out deletes the row, so a
copied cookie stops working at once on every instance.

Failed sign-ins are counted per account (site and e-mail as typed) and per
client address in a fixed window, in the database: a brake every instance
applies alike. Once a count reaches its limit, further attempts are refused
before any password is checked, whether the account exists or not.

Session times are wall-clock time, not the runtime's clock: they bound how
long a browser stays signed in, which a test clock jumping a year ahead to
expire tokens must not end (the brake's window does follow the runtime clock).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sitescim.db import repositories as repo
from sitescim.db.engine import after_transaction
from sitescim.db.models import WebSession
from sitescim.domain.clock import as_utc, system_clock
from sitescim.domain.errors import AuthenticationError
from sitescim.domain.privileges import Actor
from sitescim.services import audit, sites
from sitescim.services.runtime import Runtime

LAST_SEEN_RESOLUTION = timedelta(seconds=60)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 50


class SignInThrottledError(AuthenticationError):
    """Too many failed sign-ins for this account or address; says when to retry."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            f"Too many failed sign-in attempts. Wait {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again."
        )


@dataclass(frozen=True, slots=True)
class StartedSession:
    """The only object that carries a session's value, to be set as a cookie."""

    value: str
    actor: Actor
    expires_at: datetime

    def __repr__(self) -> str:
        return f"StartedSession(actor={self.actor.user_id!r}, value='[hidden]')"


def hash_session(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def _account_key(site_slug: str, email: str) -> str:
    return hashlib.sha256(f"account|{site_slug.casefold()}|{email.casefold()}".encode()).hexdigest()


def _address_key(address: str | None) -> str | None:
    return None if not address else hashlib.sha256(f"address|{address}".encode()).hexdigest()


def _ensure_not_throttled(session: Session, now: datetime, keys: dict[str, int]) -> None:
    window_start = now - FAILURE_WINDOW
    for row in repo.read_sign_in_failures(session, list(keys)):
        started = as_utc(row.window_started_at)
        if started >= window_start and row.failures >= keys[row.key]:
            retry = (started + FAILURE_WINDOW - now).total_seconds()
            raise SignInThrottledError(max(1, int(retry)))


def sign_in(
    session: Session,
    runtime: Runtime,
    *,
    site_slug: str,
    email: str,
    password: str,
    lifetime: timedelta,
    presented: str | None = None,
    address: str | None = None,
) -> StartedSession:
    """Check the password (unless braked) and start a new session; one generic failure.

    A failure is counted and audited after the caller's transaction, which
    rolls back on the error raised here.
    """
    now = runtime.clock()
    account = _account_key(site_slug, email)
    by_address = _address_key(address)
    limits = {account: MAX_FAILURES_PER_ACCOUNT}
    if by_address is not None:
        limits[by_address] = MAX_FAILURES_PER_ADDRESS
    site = repo.get_site_by_slug(session, site_slug)
    site_id = site.id if site is not None else None
    try:
        _ensure_not_throttled(session, now, limits)
    except SignInThrottledError:
        _after(session, lambda: _audit_failure(runtime, "sign-in throttled", address, site_id))
        raise
    try:
        actor = sites.sign_in(session, runtime, site_slug=site_slug, email=email, password=password)
    except AuthenticationError:
        _after(session, lambda: _count_failure(runtime, list(limits), address, site_id))
        raise
    repo.clear_sign_in_failures(session, account)
    if presented:
        repo.delete_web_session(session, hash_session(presented))
    wall = system_clock()
    repo.delete_expired_sessions(session, wall, user_id=actor.user_id)
    value = secrets.token_urlsafe(32)
    expires_at = wall + lifetime
    repo.add_web_session(
        session,
        WebSession(
            id_hash=hash_session(value),
            user_id=actor.user_id,
            site_id=actor.site_id,
            created_at=wall,
            expires_at=expires_at,
            last_seen_at=wall,
            created_from=address,
        ),
    )
    audit.record(
        session,
        now=now,
        site_id=actor.site_id,
        action="session.sign_in",
        who=audit.Who.person(actor),
        address=address,
    )
    return StartedSession(value=value, actor=actor, expires_at=expires_at)


def _after(session: Session, hook: Callable[[], None]) -> None:
    after_transaction(session).append(hook)


def _count_failure(
    runtime: Runtime, keys: list[str], address: str | None, site_id: str | None
) -> None:
    now = runtime.clock()
    with runtime.db.transaction(write=True) as own:
        for key in keys:
            repo.count_sign_in_failure(own, key, now=now, window_start=now - FAILURE_WINDOW)
    _audit_failure(runtime, "password", address, site_id)


def _audit_failure(runtime: Runtime, reason: str, address: str | None, site_id: str | None) -> None:
    """Under the site when it exists; never with the e-mail typed (it may be a password)."""
    audit.record_auth_failure(runtime, reason=reason, address=address, site_id=site_id)


def resume(session: Session, runtime: Runtime, value: str | None) -> Actor:
    """The actor of a live session, read afresh (a demotion or deactivation counts at once)."""
    if not value or len(value) > 128:
        raise AuthenticationError("Sign in first.")
    now = system_clock()
    id_hash = hash_session(value)
    found = repo.find_session_user(session, id_hash, now)
    if found is None:
        raise AuthenticationError("Your session has ended. Sign in again.")
    row, user = found
    if now - as_utc(row.last_seen_at) >= LAST_SEEN_RESOLUTION:
        _after(session, lambda: _touch(runtime, id_hash, now))
    return sites.actor_of(user)


def _touch(runtime: Runtime, id_hash: str, now: datetime) -> None:
    with runtime.db.transaction(write=True) as own:
        repo.touch_web_session(own, id_hash, now=now, stale_before=now - LAST_SEEN_RESOLUTION)


def sign_out(session: Session, runtime: Runtime, value: str | None) -> None:
    """Deleting the row ends the session everywhere; an unknown value is no error."""
    if value and len(value) <= 128:
        repo.delete_web_session(session, hash_session(value))


def purge_expired(runtime: Runtime) -> int:
    """Daily: drop ended sessions and stale failure counts."""
    with runtime.db.transaction(write=True) as session:
        purged = repo.delete_expired_sessions(session, system_clock())
        repo.purge_sign_in_failures(session, runtime.clock() - FAILURE_WINDOW)
    return purged
