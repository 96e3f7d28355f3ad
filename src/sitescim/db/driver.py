"""Plain DB-API statements inside a session's transaction: the write path's hot statements.

A single-user write runs five or six statements. Through SQLAlchemy Core each
cost more than the database work (building a cache key, an execution context,
result metadata), and on SQLite all of that was done holding the one write
lock. The repositories that write on every SCIM change (the user's row, the
audit row, the event) run them on the session's own DB-API connection instead:
the same transaction, no ORM or Core layer in between.

SQL is written once with ``{p}`` where a parameter goes and formatted per
dialect (``?`` for sqlite3, ``%s`` for psycopg). Values are bound as each
driver wants them, as SQLAlchemy's column types would: datetimes as naive UTC
text on SQLite (``UTCDateTime``'s storage format), aware on PostgreSQL; JSON as
``json.dumps`` text (SQLAlchemy's default serialiser, so a stored document is
byte for byte what it was).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
PLACEHOLDERS = {SQLITE: "?", POSTGRESQL: "%s"}
_INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)


def per_dialect(sql: str) -> dict[str, str]:
    """``sql`` with its ``{p}`` placeholders spelled for each driver."""
    return {dialect: sql.replace("{p}", mark) for dialect, mark in PLACEHOLDERS.items()}


def insert_sql(table: str, columns: Sequence[str]) -> dict[str, str]:
    """An INSERT of one row of ``columns`` (our own names, never a client's)."""
    marks = ", ".join("{p}" for _ in columns)
    return per_dialect(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})")  # noqa: S608


@dataclass(frozen=True, slots=True)
class Driver:
    """The session's DB-API connection, in the session's transaction (begun by taking it).

    Statements still reach the engine's ``before_cursor_execute`` listeners when
    there were any as the connection was taken: what watches the SQL an engine
    sends (echo, the tests that count statements) sees these too. A constraint
    the database refuses raises SQLAlchemy's IntegrityError, as a Core
    statement's would: the callers (a taken userName becomes a 409, a Bulk batch
    falls back to single operations) catch that one.
    """

    connection: Any
    dialect: str
    engine_connection: Connection | Engine
    """Whose ``before_cursor_execute`` listeners hear of each statement."""
    watched: bool
    deferred: list[tuple[str, Any]] | None = None
    """PostgreSQL, in a short write's transaction (db.short_writes): statements nothing
    waits on (``execute_later``), sent with the next one or with the COMMIT in one
    pipeline, so a PATCH's audit row, event and numbering cost no round trip each."""

    def _announce(self, text: str, params: Any, many: bool) -> None:
        listeners = self.engine_connection.dispatch.before_cursor_execute
        listeners(self.engine_connection, None, text, params, None, many)

    def execute(self, sql: dict[str, str], params: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor, for the rows of a read."""
        if self.deferred:
            self.send_deferred()
        text = sql[self.dialect]
        if self.watched:
            self._announce(text, params, False)
        try:
            return self.connection.execute(text, params)
        except _INTEGRITY_ERRORS as error:
            raise IntegrityError(text, params, error) from error

    def execute_later(self, sql: dict[str, str], params: Sequence[Any] = ()) -> None:
        """A statement whose outcome nothing waits on: deferred where the transaction
        allows it (``deferred``), else run now. A refusal surfaces when it is sent."""
        if self.deferred is None:
            self.execute(sql, params)
            return
        text = sql[self.dialect]
        if self.watched:
            self._announce(text, params, False)
        self.deferred.append((text, params))

    def send_deferred(self, *, commit: bool = False) -> None:
        """Send the deferred statements, and the COMMIT if asked, in one pipeline."""
        pending = self.deferred
        if not pending and not commit:
            return
        statements = list(pending or ())
        if pending:
            pending.clear()
        connection = self.connection
        try:
            with connection.pipeline():
                for text, params in statements:
                    connection.execute(text, params)
                if commit:
                    connection.commit()
        except _INTEGRITY_ERRORS as error:
            text, params = statements[0] if statements else ("COMMIT", ())
            raise IntegrityError(text, params, error) from error

    def execute_pair(
        self, first: dict[str, str], second: dict[str, str], params: Sequence[Any]
    ) -> tuple[Any, Any]:
        """Two statements with the same parameters, the second run once the first is
        done; on PostgreSQL sent together (one round trip). Their cursors."""
        if self.dialect == SQLITE:
            return self.execute(first, params), self.execute(second, params)
        if self.deferred:
            self.send_deferred()
        texts = (first[self.dialect], second[self.dialect])
        if self.watched:
            for text in texts:
                self._announce(text, params, False)
        connection = self.connection
        with connection.pipeline():
            return connection.execute(texts[0], params), connection.execute(texts[1], params)

    def execute_many(self, sql: dict[str, str], rows: Sequence[Sequence[Any]]) -> None:
        if self.deferred:
            self.send_deferred()
        text = sql[self.dialect]
        if self.watched:
            self._announce(text, rows, True)
        try:
            if self.dialect == SQLITE:
                self.connection.executemany(text, rows)
            else:
                with self.connection.cursor() as cursor:
                    cursor.executemany(text, rows)
        except _INTEGRITY_ERRORS as error:
            raise IntegrityError(text, rows, error) from error

    def insert(
        self,
        sql: dict[str, str],
        columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        *,
        moments: Collection[str] = (),
        json_columns: Collection[str] = (),
        texts: Collection[str] = (),
        later: bool = False,
    ) -> None:
        """Rows of an ``insert_sql(table, columns)``: datetimes, JSON and text (a StrEnum
        as its plain str) bound as the column types would, anything else as given.
        ``later``: a single row may wait to be sent (``execute_later``)."""
        params = [
            tuple(
                self.moment(row[name])
                if name in moments
                else self.json(row[name])
                if name in json_columns
                else str(row[name])
                if name in texts
                else row[name]
                for name in columns
            )
            for row in rows
        ]
        if len(params) == 1:
            if later:
                self.execute_later(sql, params[0])
            else:
                self.execute(sql, params[0])
        elif params:
            self.execute_many(sql, params)

    def moment(self, value: datetime) -> Any:
        """A datetime column's value (UTCDateTime): aware UTC in, as this database keeps it."""
        if value.tzinfo is None:
            raise ValueError("naive datetime given; sitescim stores UTC only")
        value = value.astimezone(UTC)
        if self.dialect == SQLITE:
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def json(self, value: Any) -> Any:
        """A JSON column's value, serialised as SQLAlchemy's JSON type does."""
        if value is None:
            return None
        text = json.dumps(value)
        if self.dialect == SQLITE:
            return text
        return Json(value, dumps=lambda _value: text)


_DRIVER = "sitescim.driver"


def driver(session: Session) -> Driver:
    """The session's connection (starting its transaction, as any statement would).

    Kept while the session's innermost transaction is the same: a change takes it
    five or six times, and asking the session each time cost as much as a
    statement. A savepoint begun since (``begin_nested``) is emitted by the
    session when its connection is next asked for, so then it is asked again.
    """
    current = session.get_nested_transaction() or session.get_transaction()
    kept: tuple[object, Driver] | None = session.info.get(_DRIVER)
    if kept is not None and kept[0] is current:  # None: seeded, the session not begun
        return kept[1]
    if kept is not None and kept[1].deferred:  # they go first, on the same connection
        kept[1].send_deferred()
    connection = session.connection()
    found = Driver(
        connection.connection.driver_connection,
        connection.dialect.name,
        connection,
        watched=bool(connection.dispatch.before_cursor_execute),
    )
    current = session.get_nested_transaction() or session.get_transaction()
    session.info[_DRIVER] = (current, found)
    return found


def seed_driver(session: Session, found: Driver) -> None:
    """Give a session not yet begun the connection of a transaction begun outside it
    (db.short_writes): ``driver`` answers it until the session begins one of its own."""
    session.info[_DRIVER] = (None, found)


def read_moment(value: Any) -> datetime:
    """A datetime column as read back: SQLite keeps naive UTC text, PostgreSQL answers aware."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
