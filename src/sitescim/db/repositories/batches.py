"""Shapes for statements that carry many rows at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.orm import Session

ID_CHUNK = 500  # keeps IN lists within every driver's parameter limit


def in_chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[start : start + ID_CHUNK] for start in range(0, len(values), ID_CHUNK)]


def column_values(row: Any) -> dict[str, Any]:
    """The column values set on a not yet persisted ORM object, for an executemany INSERT."""
    state = row.__dict__
    return {
        column.key: state[column.key] for column in row.__table__.columns if column.key in state
    }


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows that all name the same columns in the same order, as one executemany on
    the DB-API cursor.

    The values go through each column type's own bind processor, so what is
    stored is what a Core INSERT stores; Core's per-row work (compiling the
    parameters of each row into a dict, then a tuple) is what this leaves out,
    and it cost more than the database's own work for a Bulk request's rows.
    """
    if not rows:
        return
    connection = session.connection()
    names = tuple(rows[0])
    statement, processors = _insert_of(table, names, connection.dialect)
    plain = [index for index, processor in enumerate(processors) if processor is None]
    if len(plain) == len(names):
        parameters = [tuple(row.values()) for row in rows]
    else:
        parameters = [
            tuple(
                value if processor is None else processor(value)
                for value, processor in zip(row.values(), processors, strict=True)
            )
            for row in rows
        ]
    # One prepared statement run for every row: SQLite's executemany; psycopg's sends
    # them in one pipeline (one INSERT of many VALUES rows measured no faster there).
    connection.exec_driver_sql(statement, parameters)


_INSERTS: dict[tuple[str, tuple[str, ...], str], tuple[str, list[Any]]] = {}


def _insert_of(table: Table, names: tuple[str, ...], dialect: Dialect) -> tuple[str, list[Any]]:
    """The INSERT's text with positional placeholders, and each column's bind processor."""
    key = (table.name, names, dialect.name)
    known = _INSERTS.get(key)
    if known is None:
        # table.c raises for a name that is not one of the table's columns, so only
        # its own (quoted) names reach the statement's text; values are parameters.
        processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ]
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        statement = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "  # noqa: S608
            f"({', '.join(quote(name) for name in names)}) "
            f"VALUES ({', '.join([mark] * len(names))})"
        )
        known = _INSERTS[key] = (statement, processors)
    return known
