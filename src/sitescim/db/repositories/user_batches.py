"""Many new users at once, given as column values (a Bulk request's batch of creations),
with their audit rows and events.

The rows go to the session's DB-API connection (``db.driver``) as one statement
per table: on SQLite a multi-row INSERT (``insert_values`` says why not
``executemany``); on PostgreSQL ``COPY … FROM STDIN``, which cost the server
60 ms less per thousand users than psycopg's pipelined INSERTs, and the client
a third. Values are bound as
``db.driver`` binds them (datetimes as ``Driver.moment``, JSON as ``json.dumps``
text), each distinct datetime converted once (a batch has one).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from enum import Enum
from operator import itemgetter
from typing import Any, cast

import psycopg
from sqlalchemy import JSON, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.application_tables import Event
from sitescim.db.driver import POSTGRESQL, SQLITE, Driver, driver
from sitescim.db.models import AuditEvent, UTCDateTime
from sitescim.db.repositories.users import USER_ROWS, VALUE_ROWS

AUDIT_ROWS = cast(Table, AuditEvent.__table__)
EVENT_ROWS = cast(Table, Event.__table__)


def insert_users(
    session: Session, users: Sequence[dict[str, Any]], values: Sequence[dict[str, Any]]
) -> None:
    """New users and their value rows, as one statement per table however many."""
    connection = driver(session)
    if users:
        write_rows(connection, USER_ROWS, same_columns(USER_ROWS, users))
    if values:
        write_rows(connection, VALUE_ROWS, same_columns(VALUE_ROWS, values))


def insert_audit_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Audit rows (``audit.event_values`` dicts) in one statement, stored as
    ``audit_rows.insert`` stores them."""
    if rows:
        write_rows(driver(session), AUDIT_ROWS, same_columns(AUDIT_ROWS, rows))


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Events (``events.COLUMNS`` each) in one statement, unnumbered (``position``
    NULL), as ``events.add`` leaves them on PostgreSQL: the caller has them numbered
    at commit (``services.events.number_at_commit``)."""
    if rows:
        write_rows(driver(session), EVENT_ROWS, rows)


def same_columns(table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that all name the same columns in the same order, as ``write_rows`` needs.

    A column some rows leave out (a password hash only some users have) is NULL
    in those rows, as it would be had each row been inserted alone. A column
    with a default is never left out (the rows are built whole): this refuses one.
    """
    order = list(rows[0])
    if all(list(row) == order for row in rows):
        return list(rows)
    every = list(dict.fromkeys(name for row in rows for name in row))
    for name in every:
        if any(name not in row for row in rows):
            assert table.c[name].default is None, name
            assert table.c[name].server_default is None, name
    return [{name: row.get(name) for name in every} for row in rows]


def write_rows(connection: Driver, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows that all name the same columns of ``table`` in the same order, in one statement."""
    names = tuple(rows[0])
    converters = [
        (position, converter)
        for position, name in enumerate(names)
        if (converter := _converter(connection, table.c[name].type, rows[0][name])) is not None
    ]
    pick = itemgetter(*names)
    params: list[Sequence[Any]]
    if converters:
        params = []
        for row in rows:
            picked = list(pick(row))
            for position, converter in converters:
                picked[position] = converter(picked[position])
            params.append(picked)
    else:
        params = [pick(row) for row in rows]
    # table.c has vouched for every name: only the table's own columns reach the text
    columns = ", ".join(f'"{name}"' for name in names)
    if connection.dialect == POSTGRESQL:
        copy_rows(connection, f"COPY {table.name} ({columns}) FROM STDIN", params)
    else:
        head = f"INSERT INTO {table.name} ({columns}) VALUES "  # noqa: S608
        insert_values(connection, head, params)


def insert_values(connection: Driver, head: str, rows: Sequence[Sequence[Any]]) -> None:
    """SQLite: the rows as multi-row INSERTs, as many rows each as its parameter limit allows.

    Not ``executemany``: that runs the statement once per row, and the triggers
    that fill the FTS5 trigram tables of ``users`` and ``user_values`` cost far
    more so (FTS5 seems to write its pending terms out at every statement): the
    two INSERTs of a thousand users took 35 ms instead of 138 (thread CPU).
    """
    width = len(rows[0])
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    size = max(1, limit // width)
    one = "(" + ", ".join("?" for _ in range(width)) + ")"
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        sql = head + ", ".join([one] * len(chunk))  # placeholders only; values are parameters
        connection.execute({SQLITE: sql}, [value for row in chunk for value in row])


def copy_rows(connection: Driver, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL's COPY of ``rows``, seen by the engine's statement listeners as an
    executemany would be; a refused row raises SQLAlchemy's IntegrityError, as
    ``Driver`` does, so a batch that meets a concurrent writer's row can fall back."""
    if connection.watched:
        listeners = connection.engine_connection.dispatch.before_cursor_execute
        listeners(connection.engine_connection, None, statement, rows, None, True)
    try:
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as error:
        raise IntegrityError(statement, None, error) from error


def _converter(connection: Driver, kind: Any, first: Any) -> Callable[[Any], Any] | None:
    """How a column's values are bound; None for as given. ``first`` is the first row's
    value: a StrEnum (an audit row's action) is bound as its plain str, which
    psycopg's COPY would not do by itself."""
    if isinstance(kind, UTCDateTime):
        known: dict[Any, Any] = {}

        def moment(value: Any) -> Any:
            converted = known.get(value)
            if converted is None:
                converted = known[value] = connection.moment(value)
            return converted

        return moment
    if isinstance(kind, JSON):
        return json_text
    if isinstance(first, Enum):
        return str
    return None


def json_text(value: Any) -> str | None:
    """A JSON column's value as SQLAlchemy's JSON type serialises it (``json.dumps``);
    as text for both SQLite and PostgreSQL's COPY."""
    if value is None:
        return None
    if not value and isinstance(value, dict):
        return "{}"
    return json.dumps(value)
