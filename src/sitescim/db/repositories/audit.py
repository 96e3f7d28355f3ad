"""Audit rows: written with each change, counted when repeated, listed for the API and the UI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    insert,
    select,
)
from sqlalchemy.orm import Session

from sitescim.db.dialect import upsert_for
from sitescim.db.models import (
    AuditEvent,
)
from sitescim.db.repositories.batches import column_values, insert_rows

_AUDIT_TABLE = cast(Table, AuditEvent.__table__)
_INSERT_EVENT = insert(_AUDIT_TABLE)


def add_events(session: Session, events: Sequence[AuditEvent]) -> None:
    """INSERT now, rather than a unit of work at the next flush: every change writes one."""
    if events:
        session.connection().execute(_INSERT_EVENT, [column_values(event) for event in events])


def add_event_values(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Audit rows given as column values (``services.audit.event_values``, which names
    every column in one order), one executemany."""
    insert_rows(session, _AUDIT_TABLE, rows)


def add_or_count_event(session: Session, values: dict[str, Any], *, repeats: int) -> None:
    """Insert the event, or count it on the row that already has its dedup key."""
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    insert = upsert_for(session)
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
    actions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: tuple[str, str] | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
) -> Sequence[AuditEvent]:
    """Newest first; every argument but ``limit`` narrows, None means any.

    Only (site_id, occurred_at) is indexed: the other filters walk the site's
    events from the newest down, cheap while matches are common, slow for a
    rare token or resource in a long log (an index would need a migration).
    """
    conditions = [AuditEvent.site_id == site_id]
    if before_id is not None:
        conditions.append(AuditEvent.id < before_id)
    if actions is not None:
        conditions.append(AuditEvent.action.in_(actions))
    if since is not None:
        conditions.append(AuditEvent.occurred_at >= since)
    if until is not None:
        conditions.append(AuditEvent.occurred_at < until)
    if actor is not None:
        conditions += [AuditEvent.actor_type == actor[0], AuditEvent.actor_id == actor[1]]
    if target_type is not None:
        conditions.append(AuditEvent.target_type == target_type)
    if target_id is not None:
        conditions.append(AuditEvent.target_id == target_id)
    query = select(AuditEvent).where(and_(*conditions)).order_by(AuditEvent.id.desc()).limit(limit)
    return session.scalars(query).all()
