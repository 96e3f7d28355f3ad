"""The Groups page: the site's groups, searched by display-name prefix, and one group."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from sitescim.db.models import Group
from sitescim.db.repositories import directory as directory_repo
from sitescim.db.repositories import groups as groups_repo
from sitescim.domain.errors import NotFoundError
from sitescim.domain.privileges import Actor, ensure_promaster
from sitescim.scim.cursors import Position
from sitescim.services.directory.keyset import PAGE_SIZE, read_search, read_window
from sitescim.services.directory.views import GroupDetail, GroupRow, GroupsPage, Member

MEMBERS_PAGE_SIZE = 100


def list_group_rows(
    session: Session,
    actor: Actor,
    *,
    cursor_key: bytes,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> GroupsPage:
    ensure_promaster(actor, "the site's groups")
    text = read_search(search)
    prefix = text.casefold() or None

    def fetch(after_at: Position | None, before_at: Position | None, count: int) -> Sequence[Group]:
        return directory_repo.list_groups_by_name(
            session,
            actor.site_id,
            prefix=prefix,
            after=(after_at.key, after_at.id) if after_at else None,
            before=(before_at.key, before_at.id) if before_at else None,
            limit=count,
        )

    window = read_window(
        fetch,
        lambda group: (group.display_name_key, group.id),
        list_name="groups",
        cursor_key=cursor_key,
        after=after,
        before=before,
        limit=limit,
    )
    counts = directory_repo.count_members(
        session, actor.site_id, [group.id for group in window.rows]
    )
    return GroupsPage(
        groups=[
            GroupRow(id=group.id, name=group.display_name, member_count=counts.get(group.id, 0))
            for group in window.rows
        ],
        total=directory_repo.count_groups_matching(session, actor.site_id, prefix=prefix),
        search=text,
        next_after=window.next_after,
        prev_before=window.prev_before,
    )


def get_group_detail(
    session: Session,
    actor: Actor,
    group_id: str,
    *,
    after: int | None = None,
    limit: int = MEMBERS_PAGE_SIZE,
) -> GroupDetail:
    """A group and one page of its members, however many it has."""
    ensure_promaster(actor, "the site's groups")
    group = groups_repo.get_group(session, actor.site_id, group_id)
    if group is None:
        raise NotFoundError("No such group in this site.")
    rows = directory_repo.list_group_members_page(
        session, actor.site_id, group.id, after_id=after, limit=limit + 1
    )
    page = rows[:limit]
    return GroupDetail(
        id=group.id,
        name=group.display_name,
        external_id=group.external_id,
        member_count=directory_repo.count_members(session, actor.site_id, [group.id]).get(
            group.id, 0
        ),
        members=tuple(
            Member(id=member_id, kind=kind, name=name) for _, member_id, kind, name in page
        ),
        next_after=page[-1][0] if len(rows) > limit else None,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )
