"""The few places where SQLite and PostgreSQL need different SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def upsert_for(session: Session) -> Any:
    """The INSERT construct that has ``on_conflict_do_*`` for the session's database."""
    return pg_insert if is_postgresql(session) else sqlite_insert


def starts_with(session: Session, column: Any, prefix: str) -> Any:
    """A prefix match an index can answer: GLOB on SQLite, LIKE on PostgreSQL.

    SQLite's LIKE ignores ASCII case and so cannot use a binary index; the keys
    searched with this are case-folded already, so both are exact.
    """
    if is_postgresql(session):
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    escaped = "".join(f"[{char}]" if char in "*?[" else char for char in prefix)
    return column.op("GLOB", is_comparison=True)(escaped + "*")
