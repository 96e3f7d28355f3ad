"""Many new users at once, given as column values (a Bulk request's batch of creations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from sitescim.db.repositories.users import USER_ROWS, VALUE_ROWS

_INSERT_USER = USER_ROWS.insert()
_INSERT_VALUES = VALUE_ROWS.insert()


def insert_users(
    session: Session, users: Sequence[dict[str, Any]], values: Sequence[dict[str, Any]]
) -> None:
    """New users and their value rows, as two executemany INSERTs however many."""
    connection = session.connection()
    if users:
        connection.execute(_INSERT_USER, same_columns(USER_ROWS, users))
    if values:
        connection.execute(_INSERT_VALUES, same_columns(VALUE_ROWS, values))


def same_columns(table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that all name the same columns, as one executemany needs: a column some
    rows leave out (a password hash only some users have) is NULL in those rows,
    as it would be had each row been inserted alone. A column with a default is
    never left out (the rows are built whole), and this refuses one that is."""
    names = set(rows[0])
    if all(len(row) == len(names) and names.issuperset(row) for row in rows):
        return list(rows)
    every: set[str] = set().union(*rows)
    common: set[str] = every.intersection(*rows)
    for name in every - common:
        assert table.c[name].default is None, name
        assert table.c[name].server_default is None, name
    return [{name: row.get(name) for name in every} for row in rows]
