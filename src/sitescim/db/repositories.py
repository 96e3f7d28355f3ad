"""Site-scoped queries. They take a Session and never commit (the caller owns it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from sitescim.db.models import AccessToken, AuditEvent, Site, User
from sitescim.domain.errors import ActiveTokenExistsError, AlreadyExistsError

ACTIVE_HOLDER_CONSTRAINT = "active_holder_id"


# Sites


def get_site_by_slug(session: Session, slug: str) -> Site | None:
    return session.scalar(select(Site).where(Site.slug == slug))


def get_site(session: Session, site_id: str) -> Site | None:
    return session.get(Site, site_id)


def add_site(session: Session, site: Site) -> Site:
    try:
        with session.begin_nested():
            session.add(site)
    except IntegrityError:
        raise AlreadyExistsError(f"A site with slug {site.slug!r} already exists.") from None
    return site


def list_sites(session: Session) -> Sequence[Site]:
    return session.scalars(select(Site).order_by(Site.slug)).all()


# Users


def get_user(session: Session, site_id: str, user_id: str) -> User | None:
    return session.scalar(select(User).where(User.site_id == site_id, User.id == user_id))


def find_user_by_user_name(session: Session, site_id: str, user_name: str) -> User | None:
    return session.scalar(
        select(User).where(User.site_id == site_id, User.user_name_key == user_name.casefold())
    )


def add_user(session: Session, user: User) -> User:
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AlreadyExistsError(f"A user named {user.user_name!r} already exists.") from None
    return user


# Tokens


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
    )
    .join(Site, Site.id == AccessToken.site_id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


@dataclass(frozen=True, slots=True)
class TokenCredentials:
    id: str
    site_id: str
    site_slug: str
    token_hash: str
    scope: str
    description: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def find_token_credentials(connection: Connection, token_hash: str) -> TokenCredentials | None:
    """The hot path of every SCIM request: one indexed read, no ORM objects."""
    row = connection.execute(_CREDENTIALS, {"token_hash": token_hash}).first()
    return None if row is None else TokenCredentials(*row)


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


# Audit


def add_event(session: Session, event: AuditEvent) -> None:
    session.add(event)


def add_or_count_event(session: Session, values: dict[str, Any], *, repeats: int) -> None:
    """Insert the event, or count it on the row that already has its dedup key."""
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**values, repeat_count=repeats)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.dedup_key],
        set_={"repeat_count": table.c.repeat_count + repeats},
    )
    session.execute(statement)


def list_events(
    session: Session,
    site_id: str,
    *,
    limit: int,
    before_id: int | None = None,
    action_prefix: str | None = None,
) -> Sequence[AuditEvent]:
    conditions = [AuditEvent.site_id == site_id]
    if before_id is not None:
        conditions.append(AuditEvent.id < before_id)
    if action_prefix:
        conditions.append(AuditEvent.action.startswith(action_prefix, autoescape=True))
    query = select(AuditEvent).where(and_(*conditions)).order_by(AuditEvent.id.desc()).limit(limit)
    return session.scalars(query).all()


def count_events(session: Session, site_id: str | None, action: str) -> int:
    query = select(func.coalesce(func.sum(AuditEvent.repeat_count), 0)).where(
        AuditEvent.action == action,
        AuditEvent.site_id.is_(None) if site_id is None else AuditEvent.site_id == site_id,
    )
    return int(session.scalar(query) or 0)
