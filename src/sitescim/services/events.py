"""The event outbox and the feed: how the application serving a site learns of its changes.

An event is written by ``emit`` in the transaction of the change it describes,
so a change that rolls back (or a Bulk operation whose savepoint does) leaves
none. It gets its feed position as that transaction commits on PostgreSQL
(``db.repositories.events.number``), as it is inserted on SQLite, whose one
writer commits in the order it writes; so positions follow commit order and a
consumer that resumes after the last id it read never skips one, however
transactions interleave.

``data`` is the resource as the application should see it: a user's or
group's SCIM JSON, a token's public fields. Never a password or a token value.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sitescim.db.engine import before_commit
from sitescim.db.repositories import events as events_repo
from sitescim.domain.errors import ConflictError
from sitescim.domain.events import EventType, event_id
from sitescim.services.audit import Who
from sitescim.services.runtime import Runtime

MAX_PAGE = 1000
DEFAULT_PAGE = 100
RETENTION = timedelta(days=30)
_NUMBERING = "sitescim.events.numbering"
_SECRET_KEYS = frozenset({"password", "token", "secret", "key"})


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to write: what happened, to what, by whom, and the resource as it now is."""

    type: EventType
    site_id: str
    resource_id: str
    data: dict[str, Any]
    who: Who
    now: datetime
    changes: dict[str, Any] | None = None


def emit(session: Session, *events: NewEvent) -> None:
    """Write events in the caller's transaction (one statement for many, as Bulk needs)."""
    if not events:
        return
    if events_repo.add(session, [event_row(event) for event in events]):
        number_at_commit(session)


def number_at_commit(session: Session) -> None:
    """Have the session's unnumbered events numbered as it commits: once, however many
    writers (``emit``, a Bulk batch's rows) left some."""
    if not session.info.get(_NUMBERING):
        session.info[_NUMBERING] = True
        before_commit(session).append(_number)


def _number(session: Session) -> None:
    session.info.pop(_NUMBERING, None)
    events_repo.number(session)


def event_row(event: NewEvent) -> dict[str, Any]:
    """The outbox row of ``event`` (``events_repo.COLUMNS``); a document naming a
    secret is refused."""
    assert _SECRET_KEYS.isdisjoint(map(str.lower, event.data)), (
        f"an event must not carry {sorted(_SECRET_KEYS.intersection(map(str.lower, event.data)))}"
    )
    return {
        "type": str(event.type),
        "site_id": event.site_id,
        "occurred_at": event.now,
        "actor_type": event.who.kind,
        "actor_id": event.who.id,
        "actor_label": event.who.label,
        "resource_type": event.type.resource_type,
        "resource_id": event.resource_id,
        "data": event.data,
        "changes": event.changes,
    }


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[dict[str, Any]]
    next: str
    """The cursor to ask with next: the last event's id, or the one asked with if none came."""


@dataclass(frozen=True, slots=True)
class FeedQuery:
    after: int = 0
    limit: int = DEFAULT_PAGE
    site_ids: Collection[str] | None = None
    types: Collection[EventType] | None = field(default=None)


def read_feed(runtime: Runtime, query: FeedQuery) -> FeedPage:
    """One page of the feed, oldest first, after a position.

    ``site_ids`` narrows to those sites (an operator key limited to some sites
    passes its own); ``types`` to those event types. The next cursor moves past
    events filtered out too, so a narrow consumer does not re-read them.
    """
    limit = max(1, min(query.limit, MAX_PAGE))
    with runtime.db.transaction(write=False) as session:
        rows = events_repo.read_after(
            session,
            query.after,
            limit=limit,
            site_ids=query.site_ids,
            types=None if query.types is None else [str(t) for t in query.types],
        )
        if not rows and query.after > (newest := events_repo.last_position(session)):
            raise ConflictError(
                f"The cursor {event_id(query.after)} is ahead of the newest event"
                f" ({event_id(newest)}): it was not given by this service's feed."
                " Read the sites again (reconciliation) and follow the feed from there."
            )
    events = [to_json(row._mapping) for row in rows]
    last = rows[-1].position if rows else query.after
    return FeedPage(events=events, next=event_id(last))


def to_json(row: Any) -> dict[str, Any]:
    """The event as the feed and the webhooks show it (spec section 5)."""
    shown: dict[str, Any] = {
        "id": event_id(row["position"]),
        "type": row["type"],
        "site": {"id": row["site_id"], "slug": row["site_slug"]},
        "occurred_at": row["occurred_at"].isoformat().replace("+00:00", "Z"),
        "actor": {"type": row["actor_type"], "id": row["actor_id"], "label": row["actor_label"]},
        "data": row["data"],
    }
    if row["changes"] is not None:
        shown["changes"] = row["changes"]
    return shown


def prune(runtime: Runtime, retention: timedelta = RETENTION) -> int:
    """Delete events older than the retention; the newest is always kept."""
    with runtime.db.transaction(write=True) as session:
        return events_repo.prune(session, runtime.clock() - retention)
