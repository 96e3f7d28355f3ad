"""SCIM groups and their memberships.

Membership is one row per member, so these functions take the ids they touch
and never read a whole group to change it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from sitescim.db.models import (
    Group,
    Membership,
    User,
)
from sitescim.db.repositories.batches import column_values, in_chunks


def get_group(session: Session, site_id: str, group_id: str) -> Group | None:
    """A site's group, to read (``read_group_for_change`` to change it)."""
    return session.scalar(select(Group).where(Group.site_id == site_id, Group.id == group_id))


_GROUPS = cast(Table, Group.__table__)
_SAVED = ("display_name", "display_name_key", "external_id", "updated_at", "version")
"""What a change to a group may set: everything but its id, site and creation time."""
# Statements built once: building one per call cost more than running it.
_READ_FOR_CHANGE = (
    select(*_GROUPS.columns)
    .where(_GROUPS.c.site_id == bindparam("site"), _GROUPS.c.id == bindparam("id"))
    .with_for_update()
)
_SAVE = (
    _GROUPS.update()
    .where(_GROUPS.c.id == bindparam("key_id"), _GROUPS.c.site_id == bindparam("key_site"))
    .values({name: bindparam(name) for name in _SAVED})
)


def read_group_for_change(session: Session, site_id: str, group_id: str) -> Group | None:
    """A site's group, its row locked, as a transient ``Group`` (no ORM load, no flush).

    ``save_group`` writes it back: through the ORM the load and its flush cost
    more than the membership change itself.
    """
    found = session.connection().execute(_READ_FOR_CHANGE, {"site": site_id, "id": group_id})
    row = found.first()
    return None if row is None else Group(**row._mapping)


def save_group(session: Session, group: Group) -> None:
    """One UPDATE of a group read by ``read_group_for_change``."""
    values = {name: getattr(group, name) for name in _SAVED}
    session.connection().execute(_SAVE, {**values, "key_id": group.id, "key_site": group.site_id})


def delete_group(session: Session, group: Group) -> None:
    session.execute(delete(Group).where(Group.id == group.id, Group.site_id == group.site_id))


def find_member_kinds(session: Session, site_id: str, ids: Sequence[str]) -> dict[str, str]:
    """Which of these ids are the site's users ("User") or groups ("Group"); one query per chunk.

    Ids of another site are simply not found (T10).
    """
    kinds: dict[str, str] = {}
    connection = session.connection()
    for chunk in in_chunks(list(ids)):
        for member_id, kind in connection.execute(_MEMBER_KINDS, {"site": site_id, "ids": chunk}):
            kinds[member_id] = kind
    return kinds


_MEMBER_KINDS = union_all(
    select(User.id, literal("User").label("kind")).where(
        User.site_id == bindparam("site"), User.id.in_(bindparam("ids", expanding=True))
    ),
    select(Group.id, literal("Group").label("kind")).where(
        Group.site_id == bindparam("site"), Group.id.in_(bindparam("ids", expanding=True))
    ),
)


# The (group, member) pairs come as one parameter: a JSON array of pairs (SQLite)
# or two text[] (PostgreSQL). Rows go in in the order of the pairs (a group's
# members are listed in the order they were added); SQLite's LEFT JOINs keep the
# pairs outermost, each member looked up by primary key.
_ADD_SITE_MEMBERS = {
    "sqlite": text(
        "INSERT INTO group_members (site_id, group_id, user_id, member_group_id)"
        " SELECT coalesce(u.site_id, g.site_id), json_extract(p.value, '$[0]'), u.id, g.id"
        " FROM json_each(:pairs) p"
        " LEFT JOIN users u ON u.site_id = :site_id AND u.id = json_extract(p.value, '$[1]')"
        " LEFT JOIN groups g ON u.id IS NULL AND g.site_id = :site_id"
        "  AND g.id = json_extract(p.value, '$[1]')"
        " WHERE u.id IS NOT NULL OR g.id IS NOT NULL ORDER BY p.key"
        " RETURNING group_id, user_id, member_group_id"
    ),
    "postgresql": text(
        "INSERT INTO group_members (site_id, group_id, user_id, member_group_id)"
        " SELECT coalesce(u.site_id, g.site_id), p.group_id, u.id, g.id"
        " FROM unnest(CAST(:groups AS text[]), CAST(:members AS text[]))"
        "  WITH ORDINALITY AS p(group_id, member, n)"
        " LEFT JOIN users u ON u.site_id = :site_id AND u.id = p.member"
        " LEFT JOIN groups g ON u.id IS NULL AND g.site_id = :site_id AND g.id = p.member"
        " WHERE u.id IS NOT NULL OR g.id IS NOT NULL ORDER BY p.n"
        " RETURNING group_id, user_id, member_group_id"
    ),
}


def insert_groups(session: Session, groups: Sequence[Group]) -> None:
    """New groups in one INSERT (no unit of work): a Bulk request's batch."""
    table = cast(Table, Group.__table__)
    session.connection().execute(insert(table), [column_values(group) for group in groups])


Member = tuple[str, str]
"""A member as (id, kind), the kind "User" or "Group"."""


def add_site_members(
    session: Session, site_id: str, pairs: Sequence[tuple[str, str]]
) -> dict[str, dict[str, str]]:
    """Make the ids that are the site's users or groups members of new groups.

    (group id, member id) pairs, one statement whatever their number, no row
    built in Python; returns what went in, group id -> member id -> kind, so the
    caller can tell that some id is no user or group of the site (T10: another
    site's ids are not found) and name the kinds of the others without a query.
    """
    if not pairs:
        return {}
    connection = session.connection()
    dialect = connection.dialect.name
    parameters: dict[str, Any] = {"site_id": site_id}
    if dialect == "sqlite":
        parameters["pairs"] = json.dumps(pairs)
    else:
        parameters["groups"] = [group for group, _ in pairs]
        parameters["members"] = [member for _, member in pairs]
    added: dict[str, dict[str, str]] = {}
    for group_id, user_id, member_group_id in connection.execute(
        _ADD_SITE_MEMBERS[dialect], parameters
    ):
        added.setdefault(group_id, {}).update(_member(user_id, member_group_id))
    return added


def _member(user_id: str | None, member_group_id: str | None) -> dict[str, str]:
    return {user_id: "User"} if user_id is not None else {str(member_group_id): "Group"}


def _members(rows: Iterable[Any]) -> list[Member]:
    return [
        (user_id, "User") if user_id is not None else (str(member_group_id), "Group")
        for user_id, member_group_id in rows
    ]


_MEMBERSHIPS = cast(Table, Membership.__table__)
_MEMBER_COLUMNS = (_MEMBERSHIPS.c.user_id, _MEMBERSHIPS.c.member_group_id)
_ADD_MEMBERS = {
    name: upsert(_MEMBERSHIPS).on_conflict_do_nothing().returning(*_MEMBER_COLUMNS)
    for name, upsert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_REMOVE_MEMBERS = tuple(
    delete(_MEMBERSHIPS)
    .where(
        _MEMBERSHIPS.c.group_id == bindparam("group"),
        column.in_(bindparam("ids", expanding=True)),
    )
    .returning(*_MEMBER_COLUMNS)
    for column in _MEMBER_COLUMNS
)


def add_memberships(
    session: Session, site_id: str, group_id: str, members: Sequence[tuple[str, str]]
) -> set[str]:
    """Insert (id, kind) members; ones already there are left alone (unique constraints).

    Returns the ids that went in, the ones that were not members before.
    """
    if not members:
        return set()
    rows = [
        {
            "site_id": site_id,
            "group_id": group_id,
            "user_id": member_id if kind == "User" else None,
            "member_group_id": member_id if kind == "Group" else None,
        }
        for member_id, kind in members
    ]
    statement = _ADD_MEMBERS[session.connection().dialect.name]
    return {member_id for member_id, _ in _members(session.execute(statement, rows))}


def remove_memberships(session: Session, group_id: str, ids: Sequence[str]) -> list[Member]:
    """Delete only the named members' rows, by the (group, member) unique indexes.

    One statement per member column: with ``user_id IN (...) OR member_group_id
    IN (...)`` SQLite, once ANALYZE has seen a large group, walks every row of
    the group by its ``group_id`` prefix instead of probing the two indexes.
    Returns the members removed: (id, kind) of the rows there were.
    """
    connection = session.connection()
    removed: list[Member] = []
    for chunk in in_chunks(list(ids)):
        for statement in _REMOVE_MEMBERS:
            found = connection.execute(statement, {"group": group_id, "ids": chunk})
            removed.extend(_members(found))
    return removed


def remove_memberships_among(session: Session, group_id: str, rows: Select[Any]) -> list[Member]:
    """Delete the group's membership rows whose ids ``rows`` selects (a filter's match)."""
    statement = (
        delete(_MEMBERSHIPS)
        .where(_MEMBERSHIPS.c.group_id == group_id, _MEMBERSHIPS.c.id.in_(rows))
        .returning(*_MEMBER_COLUMNS)
    )
    return _members(session.connection().execute(statement))


def clear_memberships(session: Session, group_id: str) -> list[Member]:
    """Every member goes: only a whole replacement of members asks for this (it
    names them all anyway). Returns the members there were."""
    statement = (
        delete(_MEMBERSHIPS).where(_MEMBERSHIPS.c.group_id == group_id).returning(*_MEMBER_COLUMNS)
    )
    return _members(session.connection().execute(statement))


def select_members(key: Any) -> Select[Any]:
    """(``key``, user id, member group id, user display, group display) of membership rows.

    The caller narrows and orders it; ``named_members`` turns its rows into
    (key, member id, kind, display).
    """
    member_group = aliased(Group)
    return (
        select(
            key,
            Membership.user_id,
            Membership.member_group_id,
            func.coalesce(User.display_name, User.user_name),
            member_group.display_name,
        )
        .outerjoin(User, User.id == Membership.user_id)
        .outerjoin(member_group, member_group.id == Membership.member_group_id)
    )


def named_members(rows: Iterable[Any]) -> list[tuple[Any, str, str, str]]:
    return [
        (key, user_id, "User", str(user_display))
        if user_id is not None
        else (key, str(member_group_id), "Group", str(group_display))
        for key, user_id, member_group_id, user_display, group_display in rows
    ]


def list_group_members(
    session: Session, site_id: str, group_ids: Sequence[str]
) -> Sequence[tuple[str, str, str, str | None]]:
    """(group id, member id, kind, display) of the members of some groups, in insertion order."""
    if not group_ids:
        return []
    query = (
        select_members(Membership.group_id)
        .where(Membership.site_id == site_id, Membership.group_id.in_(group_ids))
        .order_by(Membership.group_id, Membership.id)
    )
    return named_members(session.execute(query))


def find_ancestor_among(
    session: Session, site_id: str, group_id: str, candidate_ids: Sequence[str]
) -> str | None:
    """One of the candidates that already contains ``group_id``, directly or nested.

    Adding such a candidate as a member would close a cycle. The walk goes up
    from the group through group-in-group rows only, by the (site, member
    group) index, never through any group's user members.
    """
    if not candidate_ids:
        return None
    ancestors = (
        select(Membership.group_id)
        .where(Membership.site_id == site_id, Membership.member_group_id == group_id)
        .cte("ancestors", recursive=True)
    )
    ancestors = ancestors.union(
        select(Membership.group_id).join(
            ancestors,
            and_(
                Membership.site_id == site_id,
                Membership.member_group_id == ancestors.c.group_id,
            ),
        )
    )
    query = select(ancestors.c.group_id).where(ancestors.c.group_id.in_(candidate_ids)).limit(1)
    found = session.scalar(query)
    return None if found is None else str(found)
