"""The hot reader's rows with names and Python types.

Rows come back from the driver as plain tuples in the column order of each
statement; these turn them into records the mapping modules read by attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from sitescim.db.models import STORED_DOCUMENT_COLUMNS, User

# The users columns a SCIM document shows: not the password hash, not the folded keys.
USER_COLUMNS: tuple[str, ...] = tuple(
    column.name
    for column in User.__table__.columns
    if column.name != "password_hash"
    and not column.name.endswith("_key")
    and column.name not in STORED_DOCUMENT_COLUMNS
)
_DATETIME_COLUMNS = frozenset({"created_at", "updated_at"})

UserRecord = NamedTuple(  # type: ignore[misc]
    "UserRecord", [(name, Any) for name in USER_COLUMNS]
)
"""A ``users`` row as mapping.user_document reads it (attribute access by column name)."""


class ValueRecord(NamedTuple):
    attribute: str
    position: int
    value: str | None
    type: str | None
    primary: bool | None
    display: str | None
    extra: dict[str, Any] | None
    id: int


class GroupOfUser(NamedTuple):
    id: str
    display: str


class UserSnapshot(NamedTuple):
    user: Any  # UserRecord
    values: list[ValueRecord]
    groups: list[GroupOfUser]


class GroupRecord(NamedTuple):
    """A ``groups`` row as group_mapping.group_document reads it."""

    id: str
    display_name: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class TokenRecord(NamedTuple):
    id: str
    site_id: str
    site_slug: str
    token_hash: str
    scope: str
    description: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    scim_may_set_promaster: bool
    password_min_length: int
    scim_rate_limit: str | None


def utc(value: Any) -> datetime | None:
    """SQLite keeps naive UTC text; PostgreSQL answers aware datetimes.

    SQLAlchemy's text (``2026-01-02 03:04:05.000006``) is parsed with its zone
    appended: ``datetime.replace`` cost several times the parse itself, and the
    token's two datetimes are read on every request.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return datetime.fromisoformat(value + "+00:00")
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    moment: datetime = value
    zone = moment.tzinfo
    if zone is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if zone is None else moment.astimezone(UTC)


TOKEN_WIDTH = len(TokenRecord._fields)


_new = tuple.__new__
"""A named tuple made from a tuple of its fields in one C call: the class's own
``__new__`` (and ``_make``) is a Python function, and the hot reader makes several
records a request."""


def token_record(row: Sequence[Any]) -> TokenRecord:
    return _new(
        TokenRecord,
        (
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            utc(row[6]),
            utc(row[7]),
            utc(row[8]),
            bool(row[9]),
            int(row[10]),
            row[11],
        ),
    )


_WIDTH = len(USER_COLUMNS)
_DATETIME_AT = tuple(USER_COLUMNS.index(name) for name in sorted(_DATETIME_COLUMNS))
_ACTIVE_AT = USER_COLUMNS.index("active")


def user_snapshot(row: Sequence[Any]) -> UserSnapshot:
    """SQLite's datetime text is kept as it is: the document formats it straight
    (user_documents.scim_datetime), which costs less than building a datetime."""
    width = _WIDTH
    columns = list(row[:width])
    for at in _DATETIME_AT:
        moment = columns[at]
        if type(moment) is not str:
            columns[at] = utc(moment)
    columns[_ACTIVE_AT] = bool(columns[_ACTIVE_AT])
    user = _new(UserRecord, columns)
    values, groups = values_and_groups(row[width], row[width + 1])
    return _new(UserSnapshot, (user, values, groups))


_USER_ID_AT = USER_COLUMNS.index("id")


def token_and_user(row: Sequence[Any] | None) -> tuple[TokenRecord | None, UserSnapshot | None]:
    """A token read joined to a user of its site (db.reads): the token's columns, then
    the user's, null when there is no such user."""
    if row is None:
        return None, None
    width = TOKEN_WIDTH
    user = None if row[width + _USER_ID_AT] is None else user_snapshot(row[width:])
    return token_record(row), user


def token_and_users(
    rows: Sequence[Sequence[Any]],
) -> tuple[TokenRecord | None, list[UserSnapshot]]:
    """A token read joined to the users of its site an ``eq`` lookup found (db.reads):
    a row a user, each beginning with the token's columns; one row with null user
    columns when none was found, none when there is no such token."""
    if not rows:
        return None, []
    width = TOKEN_WIDTH
    at = width + _USER_ID_AT
    users = [user_snapshot(row[width:]) for row in rows if row[at] is not None]
    return token_record(rows[0]), users


def values_and_groups(
    raw_values: Any, raw_groups: Any
) -> tuple[list[ValueRecord], list[GroupOfUser]]:
    """A user's value rows and groups as one statement aggregates them (JSON arrays:
    text on SQLite, decoded already on PostgreSQL)."""
    if isinstance(raw_values, str | bytes):
        raw_values = orjson.loads(raw_values)
    if isinstance(raw_groups, str | bytes):
        raw_groups = orjson.loads(raw_groups)
    values: list[ValueRecord] = [
        _new(
            ValueRecord,
            (
                attribute,
                position,
                value,
                kind,
                None if primary is None else bool(primary),
                display,
                orjson.loads(extra) if isinstance(extra, str) else extra,
                value_id,
            ),
        )
        for attribute, position, value, kind, primary, display, extra, value_id in raw_values
    ]
    return values, [_new(GroupOfUser, (group_id, display)) for group_id, display in raw_groups]


def group_record(row: Sequence[Any]) -> GroupRecord:
    return GroupRecord(row[0], row[1], row[2], utc(row[3]), utc(row[4]), row[5])  # type: ignore[arg-type]
