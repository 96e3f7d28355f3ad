"""Pages of users and groups for a SCIM list query, read in SQL (RFC 7644 §3.4.2).

``scim.listing`` turns the query into a ``PagePlan``: the filter's condition
(site included), the order, and for a cursor page (RFC 9865) where it starts
and how the next cursor is sealed. Here the plan is run: ``COUNT(*)`` over the
matching rows for ``totalResults``, then the page in that order with
OFFSET/LIMIT, and for users their values and groups in one IN query each. A
page of users is read as ids first, then those rows by primary key: each
statement has one plan shape that stays linear whatever the planner's
estimates (no join on a LIMIT subquery that a planner may re-run per row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from sitescim.db.dialect import Condition, Expr
from sitescim.db.models import Group, User
from sitescim.db.repositories import users as users_repo


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A group a user belongs to, as the read-only ``groups`` attribute shows it."""

    id: str
    display: str | None


@dataclass(frozen=True, slots=True)
class CursorStart:
    """A cursor page: the rows after the cursor's position, and the next cursor's seal."""

    key: Expr
    """What the page is ordered by (its last value goes into the next cursor)."""
    after: Condition | None
    """None on the first page."""
    seal: Callable[[Any, str], str]
    """The next page's cursor from the last row's sort key and id."""


@dataclass(frozen=True, slots=True)
class PagePlan:
    """One page of a list query, as ``scim.listing`` planned it."""

    condition: Condition
    order_by: tuple[Expr, ...]
    start_index: int
    count: int
    cursor: CursorStart | None = None
    with_values: bool = True
    with_groups: bool = True


@dataclass
class UserRowsPage:
    """One page of users as rows, with what ``user_documents.user_document`` needs for each."""

    total: int
    users: Sequence[Row[Any]]
    values: dict[str, list[Row[Any]]] = field(default_factory=dict)
    groups: dict[str, list[GroupRef]] = field(default_factory=dict)
    next_cursor: str | None = None


@dataclass
class GroupRowsPage:
    """One page of groups; members are read by the caller, and only if shown."""

    total: int
    groups: Sequence[Group]
    next_cursor: str | None = None


def read_user_page(session: Session, site_id: str, plan: PagePlan) -> UserRowsPage:
    total = session.scalar(select(func.count()).select_from(User).where(plan.condition)) or 0
    if plan.cursor is not None:
        users, next_cursor = _cursor_page(
            session, select(users_repo.USER_ROWS).where(plan.condition), plan, User.id
        )
        return _with_values(
            session, site_id, plan, UserRowsPage(total, users, next_cursor=next_cursor)
        )
    if plan.count == 0 or plan.start_index > total:
        return UserRowsPage(total=total, users=[])
    # The page's ids first, from the ordering index alone (a covering index in
    # creation order); then only those rows, by primary key. Two statements, not
    # a join on a subquery: a planner without statistics once re-ran that
    # subquery per user row, which made a page at 10,000 users take seconds.
    window = select(User.id).where(plan.condition).order_by(*plan.order_by)
    ids = session.scalars(window.offset(plan.start_index - 1).limit(plan.count)).all()
    users = _users_by_id(session, site_id, ids)
    return _with_values(session, site_id, plan, UserRowsPage(total=total, users=users))


# By primary key alone: with a site condition too, a planner without statistics
# takes the site's index and filters every user of the site for the hundred ids.
_USERS_BY_IDS = select(users_repo.USER_ROWS).where(
    users_repo.USER_ROWS.c.id.in_(bindparam("ids", expanding=True))
)


def _users_by_id(session: Session, site_id: str, ids: Sequence[str]) -> list[Row[Any]]:
    """The rows of ``ids``, in that order (the page's order, already decided).

    The ids come from a statement scoped to the site; the site is checked again
    here all the same (T10).
    """
    if not ids:
        return []
    rows = {row.id: row for row in session.execute(_USERS_BY_IDS, {"ids": list(ids)})}
    return [
        rows[user_id] for user_id in ids if user_id in rows and rows[user_id].site_id == site_id
    ]


def _with_values(
    session: Session, site_id: str, plan: PagePlan, page: UserRowsPage
) -> UserRowsPage:
    """The page's multi-valued attributes and groups, one IN query each, if shown."""
    ids = [user.id for user in page.users]
    page.values = {user_id: [] for user_id in ids}
    page.groups = {user_id: [] for user_id in ids}
    if ids and plan.with_values:
        for row in users_repo.list_user_values(session, ids):
            page.values[row.user_id].append(row)
    if ids and plan.with_groups:
        for user_id, group_id, display in users_repo.list_user_groups(session, site_id, ids):
            page.groups[user_id].append(GroupRef(id=group_id, display=display))
    return page


def read_group_page(session: Session, plan: PagePlan) -> GroupRowsPage:
    """Groups only: members are read by the caller, if the response shows them."""
    total = session.scalar(select(func.count()).select_from(Group).where(plan.condition)) or 0
    if plan.cursor is not None:
        rows, next_cursor = _cursor_page(
            session, select(Group).where(plan.condition), plan, Group.id
        )
        return GroupRowsPage(total=total, groups=[row[0] for row in rows], next_cursor=next_cursor)
    if plan.count == 0 or plan.start_index > total:
        return GroupRowsPage(total=total, groups=[])
    statement = select(Group).where(plan.condition).order_by(*plan.order_by)
    groups = session.scalars(statement.offset(plan.start_index - 1).limit(plan.count)).all()
    return GroupRowsPage(total=total, groups=groups)


def _cursor_page(
    session: Session, statement: Select[Any], plan: PagePlan, id_column: Expr
) -> tuple[Sequence[Row[Any]], str | None]:
    """One page after the cursor's position, and the cursor of the next, if any.

    One row more than asked tells whether a next page exists without a second query.
    """
    cursor = plan.cursor
    assert cursor is not None
    if cursor.after is not None:
        statement = statement.where(cursor.after)
    statement = statement.add_columns(
        cursor.key.label("page_key"), id_column.label("page_id")
    ).order_by(*plan.order_by)
    rows = session.execute(statement.limit(plan.count + 1)).all()
    if len(rows) <= plan.count or plan.count == 0:
        return rows[: plan.count], None
    last = rows[plan.count - 1]
    return rows[: plan.count], cursor.seal(last.page_key, last.page_id)
