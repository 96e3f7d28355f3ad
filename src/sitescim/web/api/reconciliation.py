"""Reconciliation reads for an operator key: sites, and each site's users, groups and
group members, cursor-paged (services.reconciliation says why groups carry no members
here and how ``feed_position`` closes the gap between a listing and the feed)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sitescim.scim.listing import DEFAULT_COUNT, MAX_COUNT
from sitescim.services import reconciliation
from sitescim.services.reconciliation import DocumentPage, SiteRef
from sitescim.web.api.operator import OperatorKeyDep
from sitescim.web.deps import RuntimeDep, SettingsDep
from sitescim.web.scim.context import scim_base_url

router = APIRouter(tags=["reconciliation"])

NO_STORE = {"Cache-Control": "no-store"}
CURSOR_HELP = "The previous page's `next`; none for the first page"
POSITION_HELP = (
    "The feed's position before this page was read: keep the first page's, list every "
    "page, then read /api/v1/events?after= it; nothing changed in between is missed"
)
Cursor = Annotated[str | None, Query(max_length=2048, description=CURSOR_HELP)]
Limit = Annotated[int, Query(ge=1, le=MAX_COUNT)]


class SiteOut(BaseModel):
    id: str
    slug: str
    name: str


class SiteList(BaseModel):
    sites: list[SiteOut]


class UserPage(BaseModel):
    users: list[dict[str, Any]] = Field(description="SCIM User resources, as GET /Users/{id}")
    next: str | None = Field(description="The next page's cursor; null on the last page")
    feed_position: str = Field(description=POSITION_HELP)


class GroupPage(BaseModel):
    groups: list[dict[str, Any]] = Field(
        description="SCIM Group resources without members: read them from /groups/{id}/members"
    )
    next: str | None
    feed_position: str = Field(description=POSITION_HELP)


class MemberPage(BaseModel):
    members: list[dict[str, str]] = Field(
        description="The group's SCIM members entries (value, $ref, type User or Group, "
        "display), by member id: users first, then groups"
    )
    next: str | None
    feed_position: str = Field(description=POSITION_HELP)


async def operator_site(
    slug: Annotated[str, Path(max_length=63)], key: OperatorKeyDep, runtime: RuntimeDep
) -> SiteRef:
    """The site in the path, if the key reads it; 404 alike for any other."""
    return await run_in_threadpool(reconciliation.find_site, runtime, key, slug)


OperatorSite = Annotated[SiteRef, Depends(operator_site)]


@router.get("/sites")
def list_sites(key: OperatorKeyDep, runtime: RuntimeDep) -> SiteList:
    """The sites this key reads."""
    sites = reconciliation.list_sites(runtime, key)
    return SiteList(sites=[SiteOut(id=s.id, slug=s.slug, name=s.name) for s in sites])


@router.get("/sites/{slug}/users", response_model=UserPage)
async def list_users(
    site: OperatorSite,
    request: Request,
    settings: SettingsDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_COUNT,
) -> Response:
    page = await reconciliation.read_users(
        request.app.state.reads,
        site,
        cursor=cursor,
        limit=limit,
        base_url=scim_base_url(request, settings.public_base_url),
        cursor_key=settings.cursor_key(),
    )
    return _encoded("users", page)


@router.get("/sites/{slug}/groups", response_model=GroupPage)
async def list_groups(
    site: OperatorSite,
    request: Request,
    settings: SettingsDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_COUNT,
) -> Response:
    page = await reconciliation.read_groups(
        request.app.state.reads,
        site,
        cursor=cursor,
        limit=limit,
        base_url=scim_base_url(request, settings.public_base_url),
        cursor_key=settings.cursor_key(),
    )
    return _encoded("groups", page)


@router.get("/sites/{slug}/groups/{group_id}/members", response_model=MemberPage)
def list_members(
    site: OperatorSite,
    group_id: Annotated[str, Path(max_length=36)],
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_COUNT,
) -> Response:
    page = reconciliation.read_members(
        runtime,
        site,
        group_id,
        cursor=cursor,
        limit=limit,
        base_url=scim_base_url(request, settings.public_base_url),
        cursor_key=settings.cursor_key(),
    )
    body = {"members": page.members, "next": page.next, "feed_position": page.feed_position}
    return JSONResponse(body, headers=NO_STORE)


def _encoded(name: str, page: DocumentPage) -> Response:
    """The page around documents already in JSON text, as the SCIM list path serves them."""
    tail = orjson.dumps({"next": page.next, "feed_position": page.feed_position})
    body = b'{"' + name.encode() + b'":[' + ",".join(page.documents).encode() + b"]," + tail[1:]
    return Response(body, media_type="application/json", headers=NO_STORE)
