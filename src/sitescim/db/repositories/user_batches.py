"""Many new users at once, given as column values (a Bulk request's batch of creations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from sitescim.db.repositories.batches import insert_rows
from sitescim.db.repositories.users import USER_ROWS, VALUE_ROWS


def insert_users(
    session: Session, users: Sequence[dict[str, Any]], values: Sequence[dict[str, Any]]
) -> None:
    """New users and their value rows, as two executemany INSERTs however many."""
    if users:
        insert_rows(session, USER_ROWS, same_columns(USER_ROWS, users))
    if values:
        insert_rows(session, VALUE_ROWS, same_columns(VALUE_ROWS, values))


def same_columns(table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that all name the same columns in the same order, as ``insert_rows`` needs.

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
