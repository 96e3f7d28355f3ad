"""The SQL the service really sends, and the plans the database makes for it.

Index tests used to EXPLAIN a query written for the test; the service may run
another. ``recorded_statements`` records, while a request runs, every statement
with its parameters at the driver: SQLAlchemy's engine event for the ORM side,
and the drivers of the SCIM hot path (``db.reads``, ``db.asyncpg_reads``), which
bypass SQLAlchemy.
``explain`` then asks the database for the plan of one of them as the service
gets it: on PostgreSQL a generic plan where the service's connections force
one (``db.reads``), from the same text prepared with the same values.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import psycopg
from sqlalchemy import Engine, event

from sitescim.db.engine import prepare_threshold

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@dataclass(frozen=True)
class SentStatement:
    sql: str
    parameters: Any


@contextmanager
def recorded_statements() -> Iterator[list[SentStatement]]:
    """Statements sent while the block runs, in order.

    Start it before the app does: the hot path's SQLite connections are opened
    once per thread, and only those opened here are recorded.
    """
    sent: list[SentStatement] = []

    def on_execute(
        conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.append(SentStatement(sql, parameters))

    class RecordingConnection(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            sent.append(SentStatement(sql, parameters))
            return super().execute(sql, parameters)

    connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", RecordingConnection)
        return connect(*args, **kwargs)

    execute = psycopg.AsyncConnection.execute

    async def recording_execute(
        self: psycopg.AsyncConnection[Any], query: Any, params: Any = None, **kwargs: Any
    ) -> Any:
        sent.append(SentStatement(str(query), params))
        return await execute(self, query, params, **kwargs)

    point_reads = {name: getattr(asyncpg.Connection, name) for name in ("fetch", "fetchrow")}

    def recording(name: str) -> Any:
        read = point_reads[name]

        async def recording_read(
            self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any
        ) -> Any:
            sent.append(SentStatement(query, args))
            return await read(self, query, *args, **kwargs)

        return recording_read

    sqlite3.connect = recording_connect  # type: ignore[assignment]
    psycopg.AsyncConnection.execute = recording_execute  # type: ignore[method-assign]
    for name in point_reads:
        setattr(asyncpg.Connection, name, recording(name))
    event.listen(Engine, "before_cursor_execute", on_execute)  # every engine
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        psycopg.AsyncConnection.execute = execute  # type: ignore[method-assign]
        for name, read in point_reads.items():
            setattr(asyncpg.Connection, name, read)
        sqlite3.connect = connect


def explain(engine: Engine, statement: SentStatement) -> str:
    """The plan of ``statement`` with its parameters, one line a node."""
    if engine.dialect.name == "sqlite":
        return _explain_sqlite(engine, statement)
    return _explain_postgresql(engine, statement)


def _explain_sqlite(engine: Engine, statement: SentStatement) -> str:
    connection = sqlite3.connect(engine.url.database or "")
    try:
        rows = connection.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.parameters)
        return "\n".join(str(row[-1]) for row in rows)
    finally:
        connection.close()


def _explain_postgresql(engine: Engine, statement: SentStatement) -> str:
    """PREPARE the statement, then EXPLAIN EXECUTE it with its values.

    Placeholders become ``$1``, ``$2``… as psycopg numbers them (a repeated
    name reuses its number; asyncpg's statements come numbered); the server
    infers their types, and the values go in as literals quoted by psycopg.
    """
    numbers: dict[str, int] = {}
    values: list[Any] = []

    def numbered(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is None:  # positional
            values.append(statement.parameters[len(values)])
            return f"${len(values)}"
        name = match.group(1)
        if name not in numbers:
            values.append(statement.parameters[name])
            numbers[name] = len(values)
        return f"${numbers[name]}"

    sql = _PLACEHOLDER.sub(numbered, statement.sql)
    if isinstance(statement.parameters, tuple) and not values:  # asyncpg's $1, $2...
        values = list(statement.parameters)
    generic = prepare_threshold(engine.url.render_as_string(hide_password=False)) is not None
    with psycopg.connect(_conninfo(engine), autocommit=True) as connection:
        if generic:
            connection.execute("SET plan_cache_mode = force_generic_plan")
        connection.execute(f"PREPARE explained AS {sql}")  # type: ignore[arg-type]
        arguments = ", ".join(["%s"] * len(values))
        cursor = psycopg.ClientCursor(connection)
        cursor.execute(f"EXPLAIN EXECUTE explained({arguments})", values)  # type: ignore[arg-type]
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def _conninfo(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql").set(query={})
    return url.render_as_string(hide_password=False)


def statements_with(sent: Sequence[SentStatement], operand: str) -> list[SentStatement]:
    """The statements given a parameter holding ``operand`` (in any case): a filter's."""
    folded = operand.casefold()
    return [
        statement
        for statement in sent
        if any(folded in str(value).casefold() for value in _values(statement.parameters))
    ]


def _values(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, (list, tuple)):
        return list(parameters)
    return []
