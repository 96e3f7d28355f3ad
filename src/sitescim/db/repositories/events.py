"""The event outbox: rows written with each change, numbered as their transaction commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from sitescim.db.application_tables import Event
from sitescim.db.dialect import is_postgresql
from sitescim.db.models import Site
from sitescim.db.repositories.batches import insert_rows

_EVENTS = cast(Table, Event.__table__)

EVENTS_LOCK = 0x5C1E_E7E5
"""PostgreSQL advisory lock a writer holds from numbering its events until its commit
has ended (PostgreSQL makes a commit visible before it releases its locks)."""

# The largest position is an uncorrelated subquery: both databases evaluate it once,
# before the UPDATE writes a row (SQLite caches it, PostgreSQL runs it as an InitPlan).
_NUMBER = (
    "UPDATE events SET position = "
    "(SELECT coalesce(max(position), 0) FROM events) + numbered.n "
    "FROM (SELECT id, row_number() OVER (ORDER BY id) AS n "
    "      FROM events WHERE position IS NULL) AS numbered "
    "WHERE events.id = numbered.id"
)
_NUMBERING = {
    "postgresql": text(_NUMBER),
    # Joined on id alone, SQLite scans the whole table at every commit; this keeps
    # it to the unnumbered rows (PostgreSQL probes the primary key either way).
    "sqlite": text(_NUMBER + " AND events.position IS NULL"),
}
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def add(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert events, unnumbered (``position`` NULL), in the caller's transaction.

    The rows name the same columns in the same order (``services.events`` builds
    them): one executemany on the DB-API cursor, without Core's per-row work.
    """
    insert_rows(session, _EVENTS, rows)


def number(session: Session) -> None:
    """Give this transaction's events the next positions, last thing before it commits.

    On SQLite the writing transaction holds the file's one write lock until it
    commits, so numbering from the largest position is in commit order already.
    On PostgreSQL writers commit concurrently: each takes ``EVENTS_LOCK`` here and
    keeps it until its commit ends, so positions are handed out in commit order
    there too. Other transactions' unnumbered rows are invisible to this one.
    One statement after the lock: it runs on the write path of every change.
    """
    connection = session.connection()
    if is_postgresql(session):
        connection.execute(_LOCK, {"key": EVENTS_LOCK})  # before the UPDATE's snapshot is taken
    connection.execute(_NUMBERING[connection.dialect.name])


def read_after(
    session: Session,
    after: int,
    *,
    limit: int,
    site_ids: Collection[str] | None = None,
    types: Collection[str] | None = None,
) -> Sequence[Row[Any]]:
    """Events after a position, in order, each with its site's slug.

    On PostgreSQL the read waits for any writer that is numbering its events to
    commit, so no smaller position can appear after this read has passed it.
    """
    connection = session.connection()
    if is_postgresql(session):
        connection.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": EVENTS_LOCK})
    statement = (
        select(_EVENTS, Site.slug.label("site_slug"))
        .join(Site, Site.id == _EVENTS.c.site_id)
        .where(_EVENTS.c.position > after)
        .order_by(_EVENTS.c.position)
        .limit(limit)
    )
    if site_ids is not None:
        statement = statement.where(_EVENTS.c.site_id.in_(bindparam("site_ids", expanding=True)))
    if types is not None:
        statement = statement.where(_EVENTS.c.type.in_(bindparam("types", expanding=True)))
    parameters: dict[str, Any] = {}
    if site_ids is not None:
        parameters["site_ids"] = list(site_ids)
    if types is not None:
        parameters["types"] = list(types)
    return connection.execute(statement, parameters).all()


def last_position(session: Session) -> int:
    value = session.connection().execute(select(func.max(_EVENTS.c.position))).scalar_one()
    return int(value or 0)


def prune(session: Session, before: datetime) -> int:
    """Delete events older than ``before``, always keeping the newest: positions go on from it."""
    newest = select(func.max(_EVENTS.c.position)).scalar_subquery()
    result = session.connection().execute(
        delete(_EVENTS).where(_EVENTS.c.occurred_at < before, _EVENTS.c.position < newest)
    )
    return int(result.rowcount or 0)


LAST_POSITION_SQL = "SELECT max(position) FROM events"
"""The feed's last position, for the hot reader (``Reads.rows``): one indexed read.

A reconciliation list read after it sees every change up to it (a position is
visible only once its transaction has committed, and positions are handed out
in commit order); every change it misses gets a larger position.
"""
