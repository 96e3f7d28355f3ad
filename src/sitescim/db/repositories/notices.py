"""Token-expiry notices: the tokens near expiry, the notices given, and who hears of them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, or_, select
from sqlalchemy.orm import Session, joinedload

from sitescim.db.application_tables import EmailMessage, TokenNotice
from sitescim.db.dialect import upsert_for
from sitescim.db.models import AccessToken, User
from sitescim.domain.privileges import Privilege


def tokens_near_expiry(
    session: Session, *, now: datetime, horizon: datetime, expired_since: datetime
) -> Sequence[Row[str, datetime]]:
    """(id, expires_at) of tokens that may be due a notice.

    Not revoked, expiring before ``horizon``; an expired one only while still
    its holder's token (not retired by a newer one) and since ``expired_since``.
    """
    return session.execute(
        select(AccessToken.id, AccessToken.expires_at)
        .where(
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at <= horizon,
            AccessToken.expires_at > expired_since,
            or_(AccessToken.expires_at > now, AccessToken.active_holder_id.is_not(None)),
        )
        .order_by(AccessToken.expires_at, AccessToken.id)
    ).all()


def notices_given(session: Session, token_ids: Collection[str]) -> set[tuple[str, str]]:
    if not token_ids:
        return set()
    rows = session.execute(
        select(TokenNotice.token_id, TokenNotice.threshold).where(
            TokenNotice.token_id.in_(list(token_ids))
        )
    )
    return {(row.token_id, row.threshold) for row in rows}


def get_token(session: Session, token_id: str) -> AccessToken | None:
    """The token with its site, read in the notice's own transaction."""
    return session.scalar(
        select(AccessToken).options(joinedload(AccessToken.site)).where(AccessToken.id == token_id)
    )


def record_notice(session: Session, token_id: str, threshold: str, now: datetime) -> bool:
    """Insert-or-nothing: True only for the one transaction, of all instances, that gave it.

    On PostgreSQL a concurrent insert of the same key waits for the first to
    end and then does nothing; on SQLite writers take turns.
    """
    statement = (
        upsert_for(session)(TokenNotice)
        .values(token_id=token_id, threshold=threshold, noticed_at=now)
        .on_conflict_do_nothing(index_elements=["token_id", "threshold"])
        .returning(TokenNotice.token_id)
    )
    # RETURNING, not rowcount: a row comes back only from the insert that happened.
    return session.execute(statement).first() is not None


def promaster_addresses(session: Session, site_id: str) -> list[str]:
    """E-mail addresses of the site's active Promasters, each once."""
    rows = session.scalars(
        select(User.email)
        .where(
            User.site_id == site_id,
            User.privilege == Privilege.PROMASTER.value,
            User.active.is_(True),
            User.email.is_not(None),
        )
        .order_by(User.email)
    )
    seen: dict[str, str] = {}
    for address in rows:
        if address:
            seen.setdefault(address.casefold(), address)
    return list(seen.values())


def add_emails(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(EmailMessage), list(rows))


def expiring_tokens(
    session: Session, site_id: str, *, now: datetime, until: datetime
) -> Sequence[Row[str, str, datetime]]:
    """(id, description, expires_at) of the site's live tokens expiring by ``until``:
    one query on the site's token index, for the banner of every page."""
    return session.execute(
        select(AccessToken.id, AccessToken.description, AccessToken.expires_at)
        .where(
            AccessToken.site_id == site_id,
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > now,
            AccessToken.expires_at <= until,
        )
        .order_by(AccessToken.expires_at, AccessToken.id)
    ).all()
