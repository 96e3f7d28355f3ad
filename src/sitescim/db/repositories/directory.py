"""The read-only directory of the web UI (services/directory/).

Keyset pages in the order of an indexed key, and prefix search on indexed keys only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session

from sitescim.db.dialect import starts_with
from sitescim.db.models import (
    Group,
    Membership,
    User,
    UserValue,
)
from sitescim.db.repositories import groups as groups_repo


def _by_user_name(session: Session, site_id: str, prefix: str) -> Any:
    return and_(User.site_id == site_id, starts_with(session, User.user_name_key, prefix))


def _email_values(session: Session, site_id: str, prefix: str) -> Any:
    return select(UserValue.user_id).where(
        UserValue.site_id == site_id,
        UserValue.attribute == "emails",
        starts_with(session, UserValue.value_key, prefix),
    )


@dataclass(frozen=True, slots=True)
class PeopleCount:
    total: int  # at most cap + 1
    many_emails_match: bool  # more than cap e-mails match: page by walking users in order


def count_people(session: Session, site_id: str, *, prefix: str | None, cap: int) -> PeopleCount:
    """How many people match, counting no further than ``cap + 1`` (a broad prefix stays cheap).

    A search has two conditions, userName and e-mail, kept apart and never
    OR-ed, so each is answered by its own index: the (site, key) b-trees on
    SQLite, the trigram indexes on PostgreSQL (where a b-tree answers LIKE only
    under the C collation).
    """
    if not prefix:
        total = int(session.scalar(select(func.count()).where(User.site_id == site_id)) or 0)
        return PeopleCount(total=total, many_emails_match=False)
    by_name = select(User.id.label("id")).where(_by_user_name(session, site_id, prefix))
    by_email = _email_values(session, site_id, prefix)
    branches = [branch.limit(cap + 1).subquery() for branch in (by_name, by_email)]
    names, emails = (
        int(session.scalar(select(func.count()).select_from(branch)) or 0) for branch in branches
    )
    if max(names, emails) > cap:
        return PeopleCount(total=cap + 1, many_emails_match=emails > cap)
    found = union(*(select(branch) for branch in branches)).subquery()
    total = int(session.scalar(select(func.count()).select_from(found)) or 0)
    return PeopleCount(total=total, many_emails_match=False)


def list_people(
    session: Session,
    site_id: str,
    *,
    prefix: str | None,
    after: str | None = None,
    before: str | None = None,
    limit: int,
    many_emails_match: bool = False,
) -> Sequence[User]:
    """A page in ``userName`` order (its case-folded key is unique per site).

    ``after``/``before`` are the key of the last/first row of the page seen;
    a page before one is read backwards and returned in order. A search reads
    a page under each of its two conditions, then merges them in the database's
    order (so paging agrees with the database's collation). The e-mail
    condition starts from the matching e-mails when they are few, and walks the
    users in order, checking each, when they are many.
    """
    key = User.user_name_key

    def page_of(condition: Any) -> Any:
        query = select(User.id, key).where(condition)
        if before is not None:
            return query.where(key < before).order_by(key.desc()).limit(limit)
        query = query.where(key > after) if after is not None else query
        return query.order_by(key).limit(limit)

    if not prefix:
        conditions: tuple[Any, ...] = (User.site_id == site_id,)
    else:
        emails = _email_values(session, site_id, prefix)
        by_email = (
            emails.where(UserValue.user_id == User.id).exists()
            if many_emails_match
            else User.id.in_(emails)
        )
        conditions = (
            _by_user_name(session, site_id, prefix),
            and_(User.site_id == site_id, by_email),
        )
    pages = [select(page_of(condition).subquery()) for condition in conditions]
    found = (union(*pages) if len(pages) > 1 else pages[0]).subquery("found")
    order = found.c.user_name_key.desc() if before is not None else found.c.user_name_key
    query = select(User).join(found, found.c.id == User.id).order_by(order).limit(limit)
    rows = session.scalars(query).all()
    return list(reversed(rows)) if before is not None else rows


def _groups_condition(session: Session, site_id: str, prefix: str | None) -> Any:
    condition = Group.site_id == site_id
    if not prefix:
        return condition
    return and_(condition, starts_with(session, Group.display_name_key, prefix))


def count_groups_matching(session: Session, site_id: str, *, prefix: str | None) -> int:
    query = (
        select(func.count()).select_from(Group).where(_groups_condition(session, site_id, prefix))
    )
    return int(session.scalar(query) or 0)


def list_groups_by_name(
    session: Session,
    site_id: str,
    *,
    prefix: str | None,
    after: tuple[str, str] | None = None,
    before: tuple[str, str] | None = None,
    limit: int,
) -> Sequence[Group]:
    """A page in display-name order; names repeat, so the id breaks ties."""
    query = select(Group).where(_groups_condition(session, site_id, prefix))
    key, gid = Group.display_name_key, Group.id
    if before is not None:
        query = query.where(or_(key < before[0], and_(key == before[0], gid < before[1])))
        query = query.order_by(key.desc(), gid.desc()).limit(limit)
        return list(reversed(session.scalars(query).all()))
    if after is not None:
        query = query.where(or_(key > after[0], and_(key == after[0], gid > after[1])))
    return session.scalars(query.order_by(key, gid).limit(limit)).all()


def count_members(session: Session, site_id: str, group_ids: Sequence[str]) -> dict[str, int]:
    """Direct members (users and groups) of each of some groups, in one grouped query."""
    if not group_ids:
        return {}
    query = (
        select(Membership.group_id, func.count())
        .where(Membership.site_id == site_id, Membership.group_id.in_(group_ids))
        .group_by(Membership.group_id)
    )
    return {group_id: int(count) for group_id, count in session.execute(query)}


def list_group_members_page(
    session: Session, site_id: str, group_id: str, *, after_id: int | None, limit: int
) -> Sequence[tuple[int, str, str, str]]:
    """(row id, member id, kind, display) of a page of one group's members, in insertion order."""
    query = (
        groups_repo.select_members(Membership.id)
        .where(Membership.site_id == site_id, Membership.group_id == group_id)
        .order_by(Membership.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(Membership.id > after_id)
    return groups_repo.named_members(session.execute(query))


@dataclass(frozen=True, slots=True)
class ContactValue:
    user_id: str
    attribute: str
    value: str
    type: str | None
    primary: bool


def list_contact_values(
    session: Session, site_id: str, user_ids: Sequence[str], attributes: Sequence[str]
) -> Sequence[ContactValue]:
    """Some multi-valued attributes (e-mails, phone numbers) of a page of users, in one query."""
    if not user_ids:
        return []
    query = (
        select(
            UserValue.user_id,
            UserValue.attribute,
            UserValue.value,
            UserValue.type,
            UserValue.primary,
        )
        .where(
            UserValue.site_id == site_id,
            UserValue.user_id.in_(user_ids),
            UserValue.attribute.in_(attributes),
            UserValue.value.is_not(None),
        )
        .order_by(UserValue.user_id, UserValue.attribute, UserValue.position, UserValue.id)
    )
    return [
        ContactValue(str(user_id), attribute, str(value), kind, bool(primary))
        for user_id, attribute, value, kind, primary in session.execute(query)
    ]
