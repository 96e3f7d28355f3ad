"""Reconciliation reads for an operator key: its sites, and each site's users, groups
and group members, for an application that starts late or lost its feed cursor.

Users and groups are the documents a SCIM GET returns, read by the SCIM list
path (services.pages) with its keyset cursors. Groups come without members: a
100,000-member group would make one page of groups megabytes long, so members
have their own cursor-paged list (``read_members``).

Each page names the feed's position taken *before* its rows were read. A
consumer keeps the one from its first page, lists every page, then follows the
feed after it: any change the listing missed has a larger position (positions
follow commit order and are visible only once committed), so nothing falls in
between; a change both listed and in the feed comes twice, so consumers apply
events idempotently (by resource id, as an upsert).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scim2_models import InvalidCursorException
from sqlalchemy import select

from sitescim.db.models import Site
from sitescim.db.reads import Reads
from sitescim.db.repositories import events as events_repo
from sitescim.db.repositories import groups as groups_repo
from sitescim.db.repositories import members as members_repo
from sitescim.db.repositories import sites as sites_repo
from sitescim.domain.api_keys import OperatorKey
from sitescim.domain.errors import InvalidInputError, NotFoundError
from sitescim.domain.events import event_id
from sitescim.scim import cursors
from sitescim.scim.group_mapping import MemberView, member_ref
from sitescim.scim.listing import ListQuery
from sitescim.services.pages import read_site_page
from sitescim.services.runtime import Runtime

NO_SUCH_SITE = "No such site."
BAD_CURSOR = "is not a cursor this list gave out; start again without one"


@dataclass(frozen=True, slots=True)
class SiteRef:
    id: str
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """Resources as JSON texts already (the SCIM list path writes them in SQL)."""

    documents: list[str]
    next: str | None
    feed_position: str


@dataclass(frozen=True, slots=True)
class MemberPage:
    members: list[dict[str, str]]
    next: str | None
    feed_position: str


def list_sites(runtime: Runtime, key: OperatorKey) -> list[SiteRef]:
    """The sites the key reads, by slug."""
    with runtime.db.transaction(write=False) as session:
        statement = select(Site).order_by(Site.slug)
        if key.site_ids is not None:
            statement = statement.where(Site.id.in_(sorted(key.site_ids)))
        return [SiteRef(id=s.id, slug=s.slug, name=s.name) for s in session.scalars(statement)]


def find_site(runtime: Runtime, key: OperatorKey, slug: str) -> SiteRef:
    """The site named, or 404 alike for an unknown one and one outside the key (T10)."""
    with runtime.db.transaction(write=False) as session:
        site = sites_repo.get_site_by_slug(session, slug)
    if site is None or not key.may_read(site.id):
        raise NotFoundError(NO_SUCH_SITE)
    return SiteRef(id=site.id, slug=site.slug, name=site.name)


def narrow_sites(runtime: Runtime, key: OperatorKey, slugs: Sequence[str]) -> frozenset[str] | None:
    """The site ids a feed read covers: those named (by slug) within the key's, or the key's."""
    if not slugs:
        return key.narrow(None)
    return frozenset(find_site(runtime, key, slug).id for slug in dict.fromkeys(slugs))


async def read_feed_position(reads: Reads) -> str:
    rows = await reads.rows(events_repo.LAST_POSITION_SQL, {})
    return event_id(int(rows[0][0] or 0) if rows else 0)


async def read_users(
    reads: Reads, site: SiteRef, *, cursor: str | None, limit: int, base_url: str, cursor_key: bytes
) -> DocumentPage:
    return await _read(reads, site, cursor, limit, base_url, cursor_key, groups=False)


async def read_groups(
    reads: Reads, site: SiteRef, *, cursor: str | None, limit: int, base_url: str, cursor_key: bytes
) -> DocumentPage:
    """Groups without ``members``: those come from ``read_members``, a page at a time."""
    return await _read(reads, site, cursor, limit, base_url, cursor_key, groups=True)


async def _read(
    reads: Reads,
    site: SiteRef,
    cursor: str | None,
    limit: int,
    base_url: str,
    cursor_key: bytes,
    *,
    groups: bool,
) -> DocumentPage:
    position = await read_feed_position(reads)
    query = ListQuery(cursor=cursor or "", count=limit, cursor_key=cursor_key)
    try:
        page = await read_site_page(reads, site.id, query, base_url=base_url, groups=groups)
    except InvalidCursorException:
        raise InvalidInputError("cursor", BAD_CURSOR) from None
    return DocumentPage(documents=page.documents, next=page.next_cursor, feed_position=position)


def read_members(
    runtime: Runtime,
    site: SiteRef,
    group_id: str,
    *,
    cursor: str | None,
    limit: int,
    base_url: str,
    cursor_key: bytes,
) -> MemberPage:
    """One page of a group's members as its SCIM ``members`` entries show them."""
    seal = cursors.fingerprint(cursor_key, "members", site.id, group_id)
    kind, after = members_repo.USER, ""
    if cursor:
        try:
            start = cursors.decode(seal, cursor)
        except InvalidCursorException:
            raise InvalidInputError("cursor", BAD_CURSOR) from None
        if start is None or start.key not in (members_repo.USER, members_repo.GROUP):
            raise InvalidInputError("cursor", BAD_CURSOR)
        kind, after = str(start.key), start.id
    with runtime.db.transaction(write=False) as session:
        position = events_repo.last_position(session)
        if groups_repo.get_group(session, site.id, group_id) is None:
            raise NotFoundError("No such group.")
        rows = members_repo.list_members_after(
            session, site.id, group_id, kind=kind, after=after, limit=limit + 1
        )
        if kind == members_repo.USER and len(rows) <= limit:
            rows += members_repo.list_members_after(
                session,
                site.id,
                group_id,
                kind=members_repo.GROUP,
                after="",
                limit=limit + 1 - len(rows),
            )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursors.encode(seal, last.kind, last.value)
    members = [
        {
            "value": row.value,
            "$ref": member_ref(base_url, MemberView(value=row.value, kind=row.kind)),
            "type": row.kind,
            "display": row.display,
        }
        for row in rows[:limit]
    ]
    return MemberPage(members=members, next=next_cursor, feed_position=event_id(position))
