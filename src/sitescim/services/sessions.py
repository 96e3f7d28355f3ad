"""Signed-in sessions for the web UI and the management API, and the sign-in brake.

A session is a random 256-bit value in an HttpOnly cookie; the database keeps
only its SHA-256 (a full-entropy secret needs no key or slow hash), so a copy
of the table signs no one in. Every sign-in issues a new value and drops any
value the browser presented (no fixation); signing out deletes the row, so a
copied cookie stops working at once on every instance.

Sign-in attempts are braked in the database, so every worker and instance
applies one brake: each attempt first claims a place under three keys in a
fixed window (one conditional upsert each, committed before the password is
checked), so concurrent attempts can never check more passwords than the
limit. The keys: the account *and* the client address (5: an attacker elsewhere
cannot lock the owner out), the address alone (50, across accounts), and the
account alone (100, NIST SP 800-63B's ceiling on failed attempts per account,
so a botnet's many addresses cannot guess on for ever; reaching it takes 20
networks). IPv6 addresses count per /64, which one client usually holds whole.
A successful sign-in gives its claim back. Refusals come before any password
is checked, whether the account exists or not.

Session times are wall-clock time, not the runtime's clock: they bound how
long a browser stays signed in, which a test clock jumping a year ahead to
expire tokens must not end (the brake's window does follow the runtime clock).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy.orm import Session

from sitescim.db.engine import after_transaction
from sitescim.db.models import WebSession
from sitescim.db.repositories import sites as sites_repo
from sitescim.db.repositories import web_sessions as sessions_repo
from sitescim.domain.actions import Action
from sitescim.domain.clock import as_utc, system_clock
from sitescim.domain.errors import AuthenticationError, SignInThrottledError
from sitescim.domain.privileges import Actor
from sitescim.services import audit, sites
from sitescim.services.runtime import Runtime

LAST_SEEN_RESOLUTION = timedelta(seconds=60)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 50
MAX_FAILURES_PER_ACCOUNT = 100


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


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8", "replace")).hexdigest()


@lru_cache(maxsize=4096)
def client_network(address: str | None) -> str:
    """The unit an address is braked by: itself, or its /64 for IPv6 (kept: the
    rate limits ask on every SCIM request, and parsing costs more than the check)."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def brake_keys(site_slug: str, email: str, address: str | None) -> dict[str, int]:
    """Hashed keys and their limits, the account+address key first.

    Hashed, so no typed e-mail (maybe a mistyped password) is stored.
    """
    account = f"{site_slug.casefold()}|{email.casefold()}"
    network = client_network(address)
    return {
        _key("account+address", account, network): MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
        _key("address", network): MAX_FAILURES_PER_ADDRESS,
        _key("account", account): MAX_FAILURES_PER_ACCOUNT,
    }


def _claim_attempt(session: Session, now: datetime, keys: dict[str, int]) -> None:
    """Claim under every key or raise; sorted, so two claims never wait on each other."""
    window_start = now - FAILURE_WINDOW
    for key in sorted(keys):
        if not sessions_repo.claim_sign_in_attempt(
            session, key, limit=keys[key], now=now, window_start=window_start
        ):
            row = sessions_repo.read_sign_in_failures(session, [key])[0]
            retry = (as_utc(row.window_started_at) + FAILURE_WINDOW - now).total_seconds()
            raise SignInThrottledError(max(1, int(retry)))


def sign_in(
    runtime: Runtime,
    *,
    site_slug: str,
    email: str,
    password: str,
    lifetime: timedelta,
    presented: str | None = None,
    address: str | None = None,
) -> StartedSession:
    """Claim an attempt, check the password outside any transaction, start a new session.

    Three short transactions of its own, so neither the argon2 check nor a
    refusal's audit holds a database lock; one generic failure.
    """
    now = runtime.clock()
    keys = brake_keys(site_slug, email, address)
    site_id: str | None = None
    try:
        with runtime.db.transaction(write=True) as session:
            site = sites_repo.get_site_by_slug(session, site_slug)
            site_id = site.id if site is not None else None
            _claim_attempt(session, now, keys)
            holder = sites.find_password_holder(session, site_slug=site_slug, email=email)
    except SignInThrottledError:
        _audit_failure(runtime, "sign-in throttled", address, site_id)
        raise
    try:
        actor = sites.check_password(runtime, holder, password)
    except AuthenticationError:
        _audit_failure(runtime, "password", address, site_id)
        raise
    wall = system_clock()
    value = secrets.token_urlsafe(32)
    expires_at = wall + lifetime
    with runtime.db.transaction(write=True) as session:
        actor = sites.load_actor(session, site_id=actor.site_id, user_id=actor.user_id)
        pair, *others = keys
        sessions_repo.clear_sign_in_failures(session, pair)
        sessions_repo.refund_sign_in_attempt(session, others)
        if presented:
            sessions_repo.delete_web_session(session, hash_session(presented))
        sessions_repo.delete_expired_sessions(session, wall, user_id=actor.user_id)
        sessions_repo.add_web_session(
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
            action=Action.SESSION_SIGN_IN,
            who=audit.Who.person(actor),
            address=address,
        )
    return StartedSession(value=value, actor=actor, expires_at=expires_at)


def _after(session: Session, hook: Callable[[], None]) -> None:
    after_transaction(session).append(hook)


def _audit_failure(runtime: Runtime, reason: str, address: str | None, site_id: str | None) -> None:
    """Under the site when it exists; never with the e-mail typed (it may be a password)."""
    audit.record_auth_failure(runtime, reason=reason, address=address, site_id=site_id)


def resume(session: Session, runtime: Runtime, value: str | None) -> Actor:
    """The actor of a live session, read afresh (a demotion or deactivation counts at once)."""
    if not value or len(value) > 128:
        raise AuthenticationError("Sign in first.")
    now = system_clock()
    id_hash = hash_session(value)
    found = sessions_repo.find_session_user(session, id_hash, now)
    if found is None:
        raise AuthenticationError("Your session has ended. Sign in again.")
    row, user = found
    if now - as_utc(row.last_seen_at) >= LAST_SEEN_RESOLUTION:
        _after(session, lambda: _touch(runtime, id_hash, now))
    return sites.actor_of(user)


def _touch(runtime: Runtime, id_hash: str, now: datetime) -> None:
    with runtime.db.transaction(write=True) as own:
        sessions_repo.touch_web_session(
            own, id_hash, now=now, stale_before=now - LAST_SEEN_RESOLUTION
        )


def sign_out(session: Session, runtime: Runtime, value: str | None) -> None:
    """Deleting the row ends the session everywhere; an unknown value is no error."""
    if value and len(value) <= 128:
        sessions_repo.delete_web_session(session, hash_session(value))


def purge_expired(runtime: Runtime) -> int:
    """Daily: drop ended sessions and stale failure counts."""
    with runtime.db.transaction(write=True) as session:
        purged = sessions_repo.delete_expired_sessions(session, system_clock())
        sessions_repo.purge_sign_in_failures(session, runtime.clock() - FAILURE_WINDOW)
    return purged
