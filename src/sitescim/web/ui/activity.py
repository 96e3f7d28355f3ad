"""The site's activity log (read-only, Promasters); web/ui/labels.py names its actions."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from sitescim.db.models import MAX_ROW_ID
from sitescim.services.activity import ACTIVITY_KINDS, list_activity
from sitescim.web.errors import PageRoute
from sitescim.web.ui.deps import PageDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/activity")
def activity(
    page: PageDep,
    kind: Annotated[str, Query(max_length=32)] = "",
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    context = page.frame("activity")
    context["page"] = list_activity(
        page.session, page.actor, kind=kind or None, since=since, until=until, before=before
    )
    context["kinds"] = ACTIVITY_KINDS
    return page.render("activity.html", context)
