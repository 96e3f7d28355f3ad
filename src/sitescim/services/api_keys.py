"""Operator API keys: created (shown once), listed, revoked, and checked on each request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sitescim.db.application_tables import ApiKey
from sitescim.db.repositories import api_keys as keys_repo
from sitescim.domain import api_keys as rules
from sitescim.domain.errors import InvalidTokenError, NotFoundError
from sitescim.services import audit
from sitescim.services.runtime import Runtime
from sitescim.services.site_lists import site_ids_of, slugs_of


@dataclass(frozen=True, slots=True)
class KeyView:
    """What a list shows of a key: never its value, which is not kept. ``sites``: slugs."""

    id: str
    description: str
    sites: list[str] | None
    created_at: datetime
    last_used_at: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    view: KeyView
    key: str
    """The value, shown this once."""


def create_key(runtime: Runtime, *, description: str, site_slugs: Sequence[str] = ()) -> IssuedKey:
    """A new key for every site, or for the sites named (by slug; an unknown one is refused)."""
    text = rules.validate_description(description)
    now = runtime.clock()
    value = rules.generate_key()
    with runtime.db.transaction(write=True) as session:
        site_ids = site_ids_of(session, site_slugs)
        key = ApiKey(
            key_hash=rules.hash_key(value, runtime.pepper),
            description=text,
            site_ids=site_ids,
            created_at=now,
        )
        keys_repo.add(session, key)
        view = _view(session, key)
    return IssuedKey(view=view, key=value)


def list_keys(runtime: Runtime) -> list[KeyView]:
    with runtime.db.transaction(write=False) as session:
        return [_view(session, key) for key in keys_repo.list_all(session)]


def revoke_key(runtime: Runtime, key_id: str) -> KeyView:
    """Revoked at once, on every instance: the next request with it is refused."""
    with runtime.db.transaction(write=True) as session:
        key = keys_repo.get(session, key_id)
        if key is None:
            raise NotFoundError("No such API key.")
        if key.revoked_at is None:
            key.revoked_at = runtime.clock()
            session.flush()
        return _view(session, key)


def authenticate(runtime: Runtime, value: str | None, *, address: str | None) -> rules.OperatorKey:
    """The key behind a bearer value, or InvalidTokenError (401) with the reason audited.

    Looked up on every request, never cached, so a revocation holds at once.
    """
    now = runtime.clock()
    reason: str | None = None
    row: ApiKey | None = None
    if not value:
        reason = "missing"
    elif not rules.is_well_formed(value):
        reason = "malformed"
    else:
        with runtime.db.reading() as connection:
            row = keys_repo.find_by_hash(connection, rules.hash_key(value, runtime.pepper))
        if row is None:
            reason = "unknown"
        elif row.revoked_at is not None:
            reason = "revoked"
    if reason is not None or row is None:
        audit.record_auth_failure(runtime, reason=f"api_key.{reason or 'unknown'}", address=address)
        raise InvalidTokenError(reason or "unknown")
    if row.last_used_at is None or now - row.last_used_at >= runtime.last_used_resolution:
        with runtime.db.transaction(write=True) as session:
            keys_repo.touch(
                session, row.id, now=now, stale_before=now - runtime.last_used_resolution
            )
    return rules.OperatorKey(
        id=row.id,
        description=row.description,
        site_ids=None if row.site_ids is None else frozenset(row.site_ids),
    )


def _view(session: Session, key: ApiKey) -> KeyView:
    """``sites`` are slugs, as the CLI takes them; None: every site."""
    return KeyView(
        id=key.id,
        description=key.description,
        sites=slugs_of(session, key.site_ids),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        status="revoked" if key.revoked_at is not None else "active",
    )
