"""The audit log, for the site's Promasters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sitescim.domain.errors import PermissionDeniedError
from sitescim.services import audit
from sitescim.web.api.schemas import EventList, EventOut
from sitescim.web.deps import CurrentActor, SessionDep

router = APIRouter(tags=["audit"])


@router.get("/audit")
def list_events(
    actor: CurrentActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> EventList:
    """Newest first; pass ``next_before_id`` back as ``before_id`` for the next page."""
    if not actor.is_promaster:
        raise PermissionDeniedError("Only the site's Promasters may read the audit log.")
    events = audit.list_events(
        session, actor.site_id, limit=limit, before_id=before_id, action_prefix=action
    )
    next_before = events[-1].id if len(events) == limit else None
    return EventList(events=[EventOut.of(event) for event in events], next_before_id=next_before)
