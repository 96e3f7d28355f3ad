"""SCIM user rows and their multi-valued attributes.

Writes use prebuilt Core statements on the session's connection; reads of whole
rows for rendering go through Core too (rows, not ORM objects, are all the
mapping needs, and skipping the identity map halves the cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

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

from sitescim.db.models import (
    Group,
    Membership,
    User,
    UserValue,
)
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


def insert_users(session: Session, users: Sequence[tuple[User, Sequence[UserValue]]]) -> None:
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
