"""Web sessions and sign-in attempt counts (services/sessions.py).

A session is looked up by the hash of the cookie value through the primary key;
the user comes in the same query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Table,
    and_,
    case,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from sitescim.db.dialect import upsert_for
from sitescim.db.models import (
    SignInFailure,
    User,
    WebSession,
)


def add_web_session(session: Session, row: WebSession) -> None:
    session.add(row)
    session.flush()


def find_session_user(
    session: Session, id_hash: str, now: datetime
) -> tuple[WebSession, User] | None:
    """The live session with this hash and its active user of the same site, in one query."""
    query = (
        select(WebSession, User)
        .join(User, and_(User.id == WebSession.user_id, User.site_id == WebSession.site_id))
        .where(WebSession.id_hash == id_hash, WebSession.expires_at > now, User.active.is_(True))
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])


def delete_web_session(session: Session, id_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))


def delete_expired_sessions(session: Session, now: datetime, *, user_id: str | None = None) -> int:
    query = delete(WebSession).where(WebSession.expires_at <= now)
    if user_id is not None:
        query = query.where(WebSession.user_id == user_id)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def touch_web_session(
    session: Session, id_hash: str, *, now: datetime, stale_before: datetime
) -> None:
    """Conditional, so concurrent requests write last-seen at most once per resolution."""
    session.execute(
        update(WebSession)
        .where(WebSession.id_hash == id_hash, WebSession.last_seen_at < stale_before)
        .values(last_seen_at=now)
    )


# Sign-in attempts (services/sessions.py): a fixed window per key, claimed before
# the password is checked.


def read_sign_in_failures(session: Session, keys: Sequence[str]) -> Sequence[SignInFailure]:
    return session.scalars(select(SignInFailure).where(SignInFailure.key.in_(keys))).all()


def claim_sign_in_attempt(
    session: Session, key: str, *, limit: int, now: datetime, window_start: datetime
) -> bool:
    """Count one attempt unless ``key`` is at ``limit`` in its window; False when it is.

    One conditional upsert: the row lock (PostgreSQL) or the write lock (SQLite)
    makes concurrent claims see each other's counts, so no more than ``limit``
    succeed. A window that began before ``window_start`` starts afresh at ``now``.
    """
    table = SignInFailure.__table__
    assert isinstance(table, Table)
    insert = upsert_for(session)
    stale = table.c.window_started_at < window_start
    statement = insert(table).values(key=key, window_started_at=now, failures=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "window_started_at": case((stale, now), else_=table.c.window_started_at),
        },
        where=or_(stale, table.c.failures < limit),
    )
    return session.execute(statement.returning(table.c.failures)).first() is not None


def refund_sign_in_attempt(session: Session, keys: Sequence[str]) -> None:
    """Take back one claimed attempt (it succeeded, so it was no failure)."""
    session.execute(
        update(SignInFailure)
        .where(SignInFailure.key.in_(keys), SignInFailure.failures > 0)
        .values(failures=SignInFailure.failures - 1)
    )


def clear_sign_in_failures(session: Session, key: str) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.key == key))


def purge_sign_in_failures(session: Session, window_start: datetime) -> int:
    query = delete(SignInFailure).where(SignInFailure.window_started_at < window_start)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)
