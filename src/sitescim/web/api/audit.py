"""The audit log, for the site's Promasters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from sitescim.db.models import MAX_ROW_ID
from sitescim.domain.actions import Action, list_actions_starting_with
from sitescim.domain.errors import InvalidInputError
from sitescim.services import activity
from sitescim.web.api.schemas import EventList, EventOut
from sitescim.web.deps import CurrentActor, SessionDep

router = APIRouter(tags=["audit"])

RESOURCE_TYPES = ("user", "group", "token")
TIME_EXAMPLE = "2026-03-01T12:00:00Z"
ACTION_HELP = "Action prefix, such as scim.user or scim.; actions: " + ", ".join(Action)


def _instant(field: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time; one without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise InvalidInputError(
            field, f"must be an ISO 8601 date-time such as {TIME_EXAMPLE}"
        ) from None


def _resource_type(value: str | None) -> str | None:
    if value is None:
        return None
    kind = value.strip().lower()
    if kind not in RESOURCE_TYPES:
        raise InvalidInputError("resource_type", f"must be one of {', '.join(RESOURCE_TYPES)}")
    return kind


@router.get("/audit")
def list_events(
    actor: CurrentActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=activity.MAX_PAGE)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    action: Annotated[str | None, Query(max_length=64, description=ACTION_HELP)] = None,
    since: Annotated[
        str | None, Query(max_length=64, description=f"From this instant on, e.g. {TIME_EXAMPLE}")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=64, description="Before this instant (exclusive)")
    ] = None,
    token_id: Annotated[
        str | None, Query(max_length=36, description="Events of this SCIM token")
    ] = None,
    resource_type: Annotated[
        str | None, Query(max_length=16, description="user, group or token")
    ] = None,
    resource_id: Annotated[str | None, Query(max_length=36)] = None,
) -> EventList:
    """Newest first; pass ``next_before_id`` back as ``before_id`` for the next page.

    Every filter narrows: ``since``/``until`` (ISO 8601; without an offset, UTC),
    ``token_id`` (what a SCIM token did), ``resource_type`` and ``resource_id``
    (what happened to one user or group), ``action`` (a prefix such as ``scim.user``).
    """
    where = activity.EventFilter(
        before_id=before_id,
        actions=list_actions_starting_with(action) if action else None,
        since=_instant("since", since),
        until=_instant("until", until),
        token_id=token_id,
        resource_type=_resource_type(resource_type),
        resource_id=resource_id,
    )
    if where.since is not None and where.until is not None and where.since >= where.until:
        raise InvalidInputError("until", "must be later than 'since'")
    page = activity.list_events(session, actor, where, limit=limit)
    return EventList(
        events=[EventOut.of(event) for event in page.events], next_before_id=page.next_before
    )
