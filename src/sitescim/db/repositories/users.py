"""SCIM user rows and their multi-valued attributes.

Writes use prebuilt Core statements on the session's connection; reads of whole
rows for rendering go through Core too (rows, not ORM objects, are all the
mapping needs, and skipping the identity map halves the cost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Connection,
    Row,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.driver import (
    POSTGRESQL,
    SQLITE,
    driver,
    insert_sql,
    per_dialect,
    read_moment,
)
from sitescim.db.models import (
    STORED_DOCUMENT_COLUMNS,
    Group,
    Membership,
    User,
    UserValue,
)
from sitescim.db.records import GroupOfUser, ValueRecord, values_and_groups
from sitescim.db.repositories.batches import column_values, in_chunks
from sitescim.domain.errors import AlreadyExistsError


def get_user(session: Session, site_id: str, user_id: str) -> User | None:
    return session.scalar(select(User).where(User.site_id == site_id, User.id == user_id))


def find_user_by_user_name(session: Session, site_id: str, user_name: str) -> User | None:
    return session.scalar(
        select(User).where(User.site_id == site_id, User.user_name_key == user_name.casefold())
    )


# Reads of whole rows for rendering go through Core too: rows, not ORM objects, are
# all the mapping needs, and skipping the identity map halves the cost.
USER_ROWS = cast(Table, User.__table__)
VALUE_ROWS = cast(Table, UserValue.__table__)

_USER_ID_NAMED = select(USER_ROWS.c.id).where(
    USER_ROWS.c.site_id == bindparam("site_id"), USER_ROWS.c.user_name_key == bindparam("key")
)
_INSERT_USER = insert(USER_ROWS)
_INSERT_VALUES = insert(VALUE_ROWS)


def user_id_named(session: Session, site_id: str, user_name: str) -> str | None:
    """The id of the site's user with this userName (compared case-insensitively).

    The write path's statements run on the session's connection: the ORM's
    execution layer costs more than the statement, and there is no object to load.
    """
    found = session.connection().execute(
        _USER_ID_NAMED, {"site_id": site_id, "key": user_name.casefold()}
    )
    return found.scalar()


def insert_users(session: Session, users: Sequence[tuple[Any, Sequence[UserValue]]]) -> None:
    """New users and their value rows, as two INSERTs however many (no unit of work)."""
    connection = session.connection()
    connection.execute(_INSERT_USER, [column_values(user) for user, _ in users])
    values = [column_values(row) for _, rows in users for row in rows]
    if values:
        connection.execute(_INSERT_VALUES, values)


def user_name_keys_taken(session: Session, site_id: str, keys: Sequence[str]) -> set[str]:
    """Which of these folded userNames the site's users already have; one query per chunk."""
    taken: set[str] = set()
    connection = session.connection()
    for chunk in in_chunks(list(keys)):
        found = connection.execute(
            select(USER_ROWS.c.user_name_key).where(
                USER_ROWS.c.site_id == site_id, USER_ROWS.c.user_name_key.in_(chunk)
            )
        )
        taken.update(found.scalars())
    return taken


def add_user(session: Session, user: User) -> User:
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AlreadyExistsError(f"A user named {user.user_name!r} already exists.") from None
    return user


_USER_BY_ID = select(USER_ROWS).where(
    USER_ROWS.c.site_id == bindparam("site_id"), USER_ROWS.c.id == bindparam("user_id")
)
_VALUES_OF_USERS = (
    select(VALUE_ROWS)
    .where(VALUE_ROWS.c.user_id.in_(bindparam("user_ids", expanding=True)))
    .order_by(VALUE_ROWS.c.user_id, VALUE_ROWS.c.attribute, VALUE_ROWS.c.position, VALUE_ROWS.c.id)
)
_GROUPS_OF_USERS = (
    select(Membership.user_id, Group.id, Group.display_name)
    .join(Group, Group.id == Membership.group_id)
    .where(
        Membership.site_id == bindparam("site_id"),
        Membership.user_id.in_(bindparam("user_ids", expanding=True)),
    )
    .order_by(Membership.user_id, Group.display_name_key, Group.id)
)


def read_user(executor: Session | Connection, site_id: str, user_id: str) -> Row[Any] | None:
    """A user's row, for reading only (T10: the site's, or nothing)."""
    return executor.execute(_USER_BY_ID, {"site_id": site_id, "user_id": user_id}).first()


def read_user_for_change(session: Session, site_id: str, user_id: str) -> Row[Any] | None:
    """A user's row, locked until the transaction ends (PostgreSQL; SQLite's writer
    already holds the file), so two concurrent changes of one user never both
    start from the same version."""
    return (
        session.connection()
        .execute(_USER_BY_ID.with_for_update(), {"site_id": site_id, "user_id": user_id})
        .first()
    )


def update_user(session: Session, user_id: str, changes: dict[str, Any]) -> None:
    """Write the columns that changed, and only those, in one statement."""
    statement = update(USER_ROWS).where(USER_ROWS.c.id == user_id).values(**changes)
    session.connection().execute(statement)


def list_user_values(executor: Session | Connection, user_ids: Sequence[str]) -> Sequence[Row[Any]]:
    """The multi-valued attributes of a page of users in one query, not one per user."""
    if not user_ids:
        return []
    return executor.execute(_VALUES_OF_USERS, {"user_ids": list(user_ids)}).all()


def list_user_groups(
    executor: Session | Connection, site_id: str, user_ids: Sequence[str]
) -> Sequence[tuple[str, str, str]]:
    """(user id, group id, group display name) of the direct groups of some users."""
    if not user_ids:
        return []
    rows = executor.execute(_GROUPS_OF_USERS, {"site_id": site_id, "user_ids": list(user_ids)})
    return [(str(user_id), group_id, name) for user_id, group_id, name in rows]


def replace_user_values(session: Session, user_id: str, rows: Sequence[UserValue]) -> None:
    session.execute(delete(UserValue).where(UserValue.user_id == user_id))
    session.add_all(rows)


def count_active_promasters(session: Session, site_id: str, *, excluding: str) -> int:
    query = select(func.count()).where(
        User.site_id == site_id,
        User.privilege == "promaster",
        User.active.is_(True),
        User.id != excluding,
    )
    return int(session.scalar(query) or 0)


def delete_user(session: Session, user: User) -> None:
    session.execute(delete(User).where(User.id == user.id, User.site_id == user.site_id))


# The write path: a user read for a change and its UPDATE, on the driver connection
# (db.driver). The SQL interpolates only our own column names, never a value.

USER_ROW_COLUMNS: tuple[str, ...] = tuple(column.name for column in USER_ROWS.columns)
"""Every column of ``users``, as a new user's INSERT writes them."""
_READ_COLUMNS: tuple[str, ...] = tuple(
    name for name in USER_ROW_COLUMNS if name not in STORED_DOCUMENT_COLUMNS
)
"""The columns ``read_for_change`` answers, in order: not the stored document, which a
change replaces without reading (``update_columns``)."""
_USER_ROW_COLUMNS_SQL = ", ".join(f'u."{name}"' for name in _READ_COLUMNS)
_VALUES_AND_GROUPS_SQL = {
    # Values and groups aggregated as JSON in the user's statement, as the hot
    # reader does (db.reads): one statement, one snapshot.
    SQLITE: (
        ' (SELECT json_group_array(json_array(attribute, position, value, type, "primary",'
        "   display, extra, id)) FROM (SELECT v.* FROM user_values v WHERE v.user_id = u.id"
        "   ORDER BY v.attribute, v.position, v.id)),"
        " (SELECT json_group_array(json_array(id, display_name)) FROM (SELECT g.id,"
        "   g.display_name FROM group_members m JOIN groups g ON g.id = m.group_id"
        "   WHERE m.site_id = u.site_id AND m.user_id = u.id ORDER BY g.display_name_key, g.id))"
    ),
    POSTGRESQL: (
        " (SELECT coalesce(json_agg(json_build_array(v.attribute, v.position, v.value, v.type,"
        '   v."primary", v.display, v.extra, v.id) ORDER BY v.attribute, v.position, v.id),'
        "   '[]') FROM user_values v WHERE v.user_id = u.id),"
        " (SELECT coalesce(json_agg(json_build_array(g.id, g.display_name)"
        "   ORDER BY g.display_name_key, g.id), '[]')"
        "   FROM group_members m JOIN groups g ON g.id = m.group_id"
        "   WHERE m.site_id = u.site_id AND m.user_id = u.id)"
    ),
}
_SELECT_WHOLE_USER = (
    "SELECT {columns},{aggregates} FROM users u WHERE u.site_id = {p} AND u.id = {p}"
)
_WHOLE_USER_SQL = {
    dialect: per_dialect(
        _SELECT_WHOLE_USER.replace("{columns}", _USER_ROW_COLUMNS_SQL).replace(
            "{aggregates}", aggregates
        )
    )[dialect]
    for dialect, aggregates in _VALUES_AND_GROUPS_SQL.items()
}
_LOCK_USER_SQL = per_dialect("SELECT 1 FROM users WHERE site_id = {p} AND id = {p} FOR UPDATE")
_CREATED_AT = _READ_COLUMNS.index("created_at")
_UPDATED_AT = _READ_COLUMNS.index("updated_at")
_ACTIVE = _READ_COLUMNS.index("active")
_WIDTH = len(_READ_COLUMNS)
_DATETIME_COLUMNS = frozenset({"created_at", "updated_at"})


class UserForChange(NamedTuple):
    """A user as stored, read for a change: every column, its values and its groups."""

    columns: dict[str, Any]
    values: list[ValueRecord]
    groups: list[GroupOfUser]


def read_for_change(session: Session, site_id: str, user_id: str) -> UserForChange | None:
    """The user (T10: the site's, or nothing) with its values and groups, in one snapshot.

    On SQLite the writer already holds the file, so one statement reads it all.
    On PostgreSQL the row is locked first, until the transaction ends, so two
    concurrent changes of one user never both start from the same version; the
    read then comes after the lock, in a snapshot that holds the other change
    whole (a lock taken by the reading statement itself would pair the newest
    row with the values of the statement's older snapshot).
    """
    connection = driver(session)
    if connection.dialect == POSTGRESQL:  # one round trip; the read starts once locked
        locked, read = connection.execute_pair(_LOCK_USER_SQL, _WHOLE_USER_SQL, (site_id, user_id))
        if locked.fetchone() is None:
            return None
    else:
        read = connection.execute(_WHOLE_USER_SQL, (site_id, user_id))
    row = read.fetchone()
    if row is None:
        return None
    columns = dict(zip(_READ_COLUMNS, row, strict=False))
    columns["created_at"] = read_moment(row[_CREATED_AT])
    columns["updated_at"] = read_moment(row[_UPDATED_AT])
    columns["active"] = bool(row[_ACTIVE])
    values, groups = values_and_groups(row[_WIDTH], row[_WIDTH + 1])
    return UserForChange(columns, values, groups)


_UPDATES: dict[frozenset[str], dict[str, str]] = {}


def update_columns(session: Session, user_id: str, changes: dict[str, Any]) -> None:
    """Write the columns that changed, and only those, in one plain UPDATE."""
    if not changes:
        return
    names = sorted(changes)
    key = frozenset(names)
    sql = _UPDATES.get(key)
    if sql is None:
        unknown = key.difference(USER_ROW_COLUMNS)
        if unknown:
            raise ValueError(f"users has no columns {sorted(unknown)}")
        assignments = ", ".join(f'"{name}" = {{p}}' for name in names)
        statement = f"UPDATE users SET {assignments} WHERE id = {{p}}"  # noqa: S608 - our names
        sql = _UPDATES[key] = per_dialect(statement)
    connection = driver(session)
    params = [
        connection.moment(changes[name]) if name in _DATETIME_COLUMNS else changes[name]
        for name in names
    ]
    params.append(user_id)
    connection.execute(sql, params)


_DELETE_USER = per_dialect("DELETE FROM users WHERE id = {p} AND site_id = {p}")


def delete_by_id(session: Session, site_id: str, user_id: str) -> None:
    """Delete the site's user; its values and memberships go with it (ON DELETE CASCADE)."""
    driver(session).execute(_DELETE_USER, (user_id, site_id))


_VALUE_COLUMNS = (
    "user_id",
    "site_id",
    "attribute",
    "position",
    "value",
    "value_key",
    "type",
    "primary",
    "display",
    "extra",
)
_INSERT_USER_ROW = insert_sql("users", [f'"{name}"' for name in USER_ROW_COLUMNS])
_INSERT_VALUE_ROWS = insert_sql("user_values", [f'"{name}"' for name in _VALUE_COLUMNS])
_DELETE_VALUES = per_dialect("DELETE FROM user_values WHERE user_id = {p}")


def insert_user(session: Session, user: Any, values: Sequence[UserValue]) -> None:
    """A new user (every column an attribute of ``user``) and its value rows, as
    plain INSERTs: the single creation's statements, inside the write lock."""
    connection = driver(session)
    params = [
        connection.moment(getattr(user, name)) if name in _DATETIME_COLUMNS else getattr(user, name)
        for name in USER_ROW_COLUMNS
    ]
    connection.execute(_INSERT_USER_ROW, params)
    _insert_values(session, values)


def insert_user_columns(
    session: Session, columns: Mapping[str, Any], values: Sequence[Mapping[str, Any]]
) -> None:
    """``insert_user`` for a user given as column values (a plain body's:
    services.user_batches.plain_new_user), with no object built for it."""
    connection = driver(session)
    connection.insert(_INSERT_USER_ROW, USER_ROW_COLUMNS, [columns], moments=_DATETIME_COLUMNS)
    connection.insert(_INSERT_VALUE_ROWS, _VALUE_COLUMNS, values, json_columns=_JSON_COLUMNS)


_JSON_COLUMNS = frozenset({"extra"})


def _insert_values(session: Session, values: Sequence[UserValue]) -> None:
    if not values:
        return
    connection = driver(session)
    rows = [
        (
            row.user_id,
            row.site_id,
            row.attribute,
            row.position,
            row.value,
            row.value_key,
            row.type,
            row.primary,
            row.display,
            connection.json(row.extra if row.extra is not None else {}),
        )
        for row in values
    ]
    if len(rows) == 1:
        connection.execute(_INSERT_VALUE_ROWS, rows[0])
    else:
        connection.execute_many(_INSERT_VALUE_ROWS, rows)


def rewrite_values(session: Session, user_id: str, values: Sequence[UserValue]) -> None:
    """Replace a user's value rows: one DELETE, one INSERT (not the ORM's unit of work)."""
    driver(session).execute(_DELETE_VALUES, (user_id,))
    _insert_values(session, values)
