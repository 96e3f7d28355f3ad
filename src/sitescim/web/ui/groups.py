"""The site's groups: a searchable list and one group's members (read-only, Promasters)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from sitescim.db.models import MAX_ROW_ID
from sitescim.services import directory
from sitescim.web.errors import PageRoute
from sitescim.web.ui.deps import PageDep, SearchQuery

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/groups")
def groups(page: PageDep, search: SearchQuery) -> Response:
    return page.render_list("groups", search, directory.list_group_rows)


@router.get("/groups/{group_id}")
def group(
    group_id: str,
    page: PageDep,
    after: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    context = page.frame("groups")
    context["group"] = directory.get_group_detail(page.session, page.actor, group_id, after=after)
    return page.render("group.html", context)
