"""Site SCIM access tokens: issued, listed, found by hash, retired, warned of expiry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from sitescim.db.models import (
    AccessToken,
    Site,
)
from sitescim.db.records import TokenRecord
from sitescim.domain.errors import ActiveTokenExistsError

ACTIVE_HOLDER_CONSTRAINT = "active_holder_id"


def _tokens_with_creator() -> Select[AccessToken]:
    return select(AccessToken).options(joinedload(AccessToken.creator))


def list_tokens(session: Session, site_id: str) -> Sequence[AccessToken]:
    query = (
        _tokens_with_creator()
        .where(AccessToken.site_id == site_id)
        .order_by(AccessToken.created_at.desc(), AccessToken.id)
    )
    return session.scalars(query).all()


def get_token(session: Session, site_id: str, token_id: str) -> AccessToken | None:
    query = _tokens_with_creator().where(AccessToken.site_id == site_id, AccessToken.id == token_id)
    return session.scalar(query)


_CREDENTIALS = (
    select(
        AccessToken.id,
        AccessToken.site_id,
        Site.slug.label("site_slug"),
        AccessToken.token_hash,
        AccessToken.scope,
        AccessToken.description,
        AccessToken.expires_at,
        AccessToken.revoked_at,
        AccessToken.last_used_at,
        Site.scim_may_set_promaster,
        Site.password_min_length,
        Site.scim_rate_limit,
    )
    .join(Site, Site.id == AccessToken.site_id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


def find_token_credentials(connection: Connection, token_hash: str) -> TokenRecord | None:
    """The token and its site through SQLAlchemy, for callers without the hot reader."""
    row = connection.execute(_CREDENTIALS, {"token_hash": token_hash}).first()
    return None if row is None else TokenRecord._make(row)


def find_active_token_held_by(session: Session, holder_id: str) -> AccessToken | None:
    return session.scalar(select(AccessToken).where(AccessToken.active_holder_id == holder_id))


def retire_expired_tokens_held_by(session: Session, holder_id: str, now: datetime) -> None:
    """An expired token no longer counts towards its holder's one active token (T3, T6)."""
    session.execute(
        update(AccessToken)
        .where(AccessToken.active_holder_id == holder_id, AccessToken.expires_at <= now)
        .values(active_holder_id=None)
    )


def add_token(session: Session, token: AccessToken) -> AccessToken:
    """Insert; the unique active-holder index turns a lost race into a clean conflict."""
    try:
        with session.begin_nested():
            session.add(token)
    except IntegrityError as error:
        if ACTIVE_HOLDER_CONSTRAINT in str(error.orig):
            raise ActiveTokenExistsError() from None
        raise
    return token


def touch_token_use(
    session: Session, token_id: str, *, now: datetime, address: str | None, stale_before: datetime
) -> None:
    """Conditional, so concurrent instances write last use at most once per resolution."""
    session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == token_id,
            or_(AccessToken.last_used_at.is_(None), AccessToken.last_used_at < stale_before),
        )
        .values(last_used_at=now, last_used_from=address)
    )


def tokens_expiring_between(
    session: Session, start: datetime, end: datetime
) -> Sequence[AccessToken]:
    return session.scalars(
        select(AccessToken)
        .options(joinedload(AccessToken.site))
        .where(
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > start,
            AccessToken.expires_at <= end,
        )
        .order_by(AccessToken.expires_at)
    ).all()


def claim_expiry_warning(session: Session, token_id: str, today: Any) -> bool:
    """True for exactly one instance per token per day, so the warning is logged once."""
    result = session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == token_id,
            or_(AccessToken.expiry_warned_on.is_(None), AccessToken.expiry_warned_on < today),
        )
        .values(expiry_warned_on=today)
    )
    return bool(getattr(result, "rowcount", 0))
