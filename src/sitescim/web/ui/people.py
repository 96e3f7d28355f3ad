"""The site's people: a searchable list and one person's page (read-only, Promasters)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sitescim.services import directory
from sitescim.web.errors import PageRoute
from sitescim.web.ui.deps import PageDep, SearchQuery

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/people")
def people(page: PageDep, search: SearchQuery) -> Response:
    return page.render_list("people", search, directory.list_people)


@router.get("/people/{user_id}")
def person(user_id: str, page: PageDep) -> Response:
    context = page.frame("people")
    context["person"] = directory.get_person(page.session, page.actor, user_id)
    return page.render("person.html", context)
