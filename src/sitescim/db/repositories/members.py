"""A group's members a page at a time, for groups too large for one response.

Pages walk the membership's two unique indexes, (group_id, user_id) and then
(group_id, member_group_id): each page is a range read of one of them, as
cheap deep in a 100,000-member group as at its start. The order is the members'
ids (users first, then groups), not insertion order: a walk that needs a stable
position cannot use insertion order without another index.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sitescim.db.models import Group, Membership, User

USER = "User"
GROUP = "Group"


@dataclass(frozen=True, slots=True)
class MemberRow:
    value: str
    kind: str
    display: str


def list_members_after(
    session: Session, site_id: str, group_id: str, *, kind: str, after: str, limit: int
) -> list[MemberRow]:
    """Members of ``kind`` (User or Group) whose id sorts after ``after`` ("" for the first)."""
    if kind == USER:
        column = Membership.user_id
        display = func.coalesce(User.display_name, User.user_name)
        joined = select(column, display).join(User, User.id == Membership.user_id)
    else:
        column = Membership.member_group_id
        joined = select(column, Group.display_name).join(
            Group, Group.id == Membership.member_group_id
        )
    query = (
        joined.where(Membership.group_id == group_id, Membership.site_id == site_id, column > after)
        .order_by(column)
        .limit(limit)
    )
    return [
        MemberRow(value=str(value), kind=kind, display=str(shown))
        for value, shown in session.execute(query)
    ]
