"""Reading the audit log, for the JSON API and the Activity page alike.

Both go through ``list_events``: one query, one view of an event, one paging
rule (a page fetches one event more than it shows, to know whether there is a
next one) and the Promaster check, here rather than in each caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session

from sitescim.db.models import AuditEvent
from sitescim.db.repositories import audit as audit_repo
from sitescim.domain.actions import Action, Family, list_actions_of
from sitescim.domain.errors import InvalidInputError
from sitescim.domain.privileges import Actor, ensure_promaster

MAX_PAGE = 500
PAGE_SIZE = 50  # the Activity page's


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    occurred_at: datetime
    action: str
    outcome: str
    actor_type: str
    actor_id: str | None
    actor_label: str | None
    target_type: str | None
    target_id: str | None
    client_address: str | None
    detail: dict[str, Any]
    message: str | None
    count: int


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which of a site's events to list; every field narrows, None means any.

    ``since`` is inclusive and ``until`` exclusive, so consecutive ranges
    never show an event twice. ``resource_type`` is the kind of target
    (``user``, ``group``, ``token``), compared without regard to case.
    """

    before_id: int | None = None
    actions: frozenset[Action] | None = None
    since: datetime | None = None
    until: datetime | None = None
    token_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: Sequence[EventView]
    next_before: int | None  # the id to list before for the next page; None on the last


@dataclass(frozen=True, slots=True)
class Kind:
    label: str
    family: Family


# What the Activity page filters by: a family of actions.
ACTIVITY_KINDS = MappingProxyType(
    {
        "tokens": Kind("Access tokens", Family.TOKEN),
        "provisioning": Kind("Provisioning", Family.SCIM),
        "auth": Kind("Failed authentications", Family.AUTH),
        "sign-ins": Kind("Sign-ins", Family.SESSION),
    }
)


@dataclass(frozen=True, slots=True)
class ActivityPage:
    events: Sequence[EventView]
    kind: str
    since: date | None
    until: date | None
    next_before: int | None


def list_events(
    session: Session, actor: Actor, where: EventFilter, *, limit: int = PAGE_SIZE
) -> EventPage:
    """Newest first, at most ``limit`` (capped at MAX_PAGE) events of the actor's site."""
    ensure_promaster(actor, "the audit log")
    limit = max(1, min(limit, MAX_PAGE))
    rows = audit_repo.list_events(
        session,
        actor.site_id,
        limit=limit + 1,
        before_id=where.before_id,
        actions=sorted(where.actions) if where.actions is not None else None,
        since=where.since,
        until=where.until,
        actor=("token", where.token_id) if where.token_id else None,
        target_type=where.resource_type.lower() if where.resource_type else None,
        target_id=where.resource_id,
    )
    page = rows[:limit]
    return EventPage(
        events=[_event_view(row) for row in page],
        next_before=page[-1].id if len(rows) > limit else None,
    )


def _event_view(row: AuditEvent) -> EventView:
    return EventView(
        id=row.id,
        occurred_at=row.occurred_at,
        action=row.action,
        outcome=row.outcome,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        actor_label=row.actor_label,
        target_type=row.target_type,
        target_id=row.target_id,
        client_address=row.client_address,
        detail=dict(row.detail or {}),
        message=row.message,
        count=row.repeat_count,
    )


def list_activity(
    session: Session,
    actor: Actor,
    *,
    kind: str | None = None,
    since: date | None = None,
    until: date | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> ActivityPage:
    """The Activity page: ``since`` and ``until`` are whole UTC days, both included."""
    ensure_promaster(actor, "the audit log")
    if kind and kind not in ACTIVITY_KINDS:
        raise InvalidInputError("kind", f"must be one of: {', '.join(ACTIVITY_KINDS)}")
    if since and until and since > until:
        raise InvalidInputError("until", "must not be before the start date")
    where = EventFilter(
        before_id=before,
        actions=list_actions_of(ACTIVITY_KINDS[kind].family) if kind else None,
        since=datetime.combine(since, time(), tzinfo=UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC) if until else None,
    )
    page = list_events(session, actor, where, limit=limit)
    return ActivityPage(
        events=page.events,
        kind=kind or "",
        since=since,
        until=until,
        next_before=page.next_before,
    )
