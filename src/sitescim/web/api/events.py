"""The events feed for the application that serves the sites (spec section 5).

``GET /api/v1/events?after=CURSOR`` with an operator key. ``next`` is always
present: a consumer that got nothing asks again with it. Filters narrow what a
page shows, not where the cursor goes: ``next`` moves past events filtered out.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from sitescim.domain.events import parse_event_id, parse_types
from sitescim.services import events as event_service
from sitescim.services import reconciliation
from sitescim.web.api.operator import OperatorKeyDep
from sitescim.web.deps import RuntimeDep

router = APIRouter(tags=["events"])

MAX_SITES = 10
"""``site`` parameters in one request: enough for any consumer, and the URL stays
within the server's request-head limit (SITESCIM_HTTP_MAX_HEADER_BYTES)."""
SiteSlugs = Annotated[str, StringConstraints(max_length=127)]

CURSOR_HELP = "The last event id read (the previous page's `next`); none: the oldest kept event"
SITE_HELP = "Only these sites, by slug (repeat the parameter or separate slugs by commas)"
TYPES_HELP = "Only these event types, comma-separated, such as user.created,group.deleted"


class SiteOfEvent(BaseModel):
    id: str
    slug: str


class ActorOfEvent(BaseModel):
    type: str = Field(description="user, token, system or anonymous")
    id: str | None
    label: str | None


class FeedEvent(BaseModel):
    id: str = Field(description="evt_ and the feed position: ids sort as the feed does")
    type: str
    site: SiteOfEvent
    occurred_at: str
    actor: ActorOfEvent
    data: dict[str, Any] = Field(description="The resource as it was: SCIM JSON of a user or group")
    changes: dict[str, Any] | None = Field(
        default=None, description="user.updated: the attributes changed; members_*: member ids"
    )


class FeedPage(BaseModel):
    events: list[FeedEvent]
    next: str = Field(description="Ask again with after=next, whether or not events came")


def split_list(values: list[str] | None) -> list[str]:
    """``?site=a&site=b`` and ``?site=a,b`` alike."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


@router.get("/events", response_model_exclude_unset=True)
def read_events(
    key: OperatorKeyDep,
    runtime: RuntimeDep,
    response: Response,
    after: Annotated[str | None, Query(max_length=64, description=CURSOR_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=event_service.MAX_PAGE)] = event_service.DEFAULT_PAGE,
    site: Annotated[
        list[SiteSlugs] | None, Query(max_length=MAX_SITES, description=SITE_HELP)
    ] = None,
    types: Annotated[str | None, Query(max_length=512, description=TYPES_HELP)] = None,
) -> FeedPage:
    """Events in feed order after ``after``; a site outside the key is 404, as if absent."""
    query = event_service.FeedQuery(
        after=0 if after is None else parse_event_id(after),
        limit=limit,
        types=parse_types(types),
        site_ids=reconciliation.narrow_sites(runtime, key, split_list(site)),
    )
    page = event_service.read_feed(runtime, query)
    response.headers["Cache-Control"] = "no-store"
    return FeedPage.model_validate({"events": page.events, "next": page.next})
