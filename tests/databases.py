"""PostgreSQL for tests: where it is, whether it answers, databases of a test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from sitescim.db.base import Base
from sitescim.db.engine import make_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "SITESCIM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def find_postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used (one line), or None when it answers."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(error).__name__}"
    return None


@contextmanager
def create_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database named ``prefix`` plus a random tail; its URL; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_DEAD_ROWS_BEFORE_TRUNCATE = 5_000
_dead_rows: dict[str, int] = {}
_reset_engines: dict[str, Engine] = {}


def reset_postgres(url: str) -> None:
    """Empty every table and restart every sequence, as ``truncate_all`` does, in a
    few milliseconds instead of about a hundred (a new file per table and index).

    The machines' clusters run without autovacuum, so the rows deleted since the
    last truncation are counted, and past a few thousand the tables are truncated
    instead: no test meets thousands of dead rows in its scans and plans.
    """
    if _dead_rows.get(url, 0) >= _DEAD_ROWS_BEFORE_TRUNCATE:
        truncate_all(url)
        _dead_rows[url] = 0
        return
    deleted = 0
    with _engine_for(url).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            deleted += connection.execute(table.delete()).rowcount
        sequences = connection.execute(
            text("SELECT sequence_name FROM information_schema.sequences")
        ).scalars()
        for sequence in list(sequences):
            connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    _dead_rows[url] = _dead_rows.get(url, 0) + deleted


@dataclass(frozen=True)
class Snapshot:
    """Every row of a PostgreSQL database's tables, and where its sequences stood."""

    rows: dict[str, list[dict[str, Any]]]
    sequences: dict[str, int]


def take_snapshot(url: str) -> Snapshot:
    engine = _engine_for(url)
    with engine.connect() as connection:
        rows = {
            table.name: [dict(row) for row in connection.execute(table.select()).mappings()]
            for table in Base.metadata.sorted_tables
        }
        found = connection.execute(
            text("SELECT sequencename, last_value FROM pg_sequences WHERE last_value IS NOT NULL")
        )
        sequences = {str(name): int(value) for name, value in found}
    return Snapshot({name: found for name, found in rows.items() if found}, sequences)


def restore_snapshot(url: str, snapshot: Snapshot) -> None:
    """``reset_postgres``, then the snapshot's rows put back as they were: with triggers
    off (``replica``), so the counts kept by triggers are the snapshot's own."""
    reset_postgres(url)
    with _engine_for(url).begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in Base.metadata.sorted_tables:
            found = snapshot.rows.get(table.name)
            if found:
                connection.execute(table.insert(), found)
        for name, value in snapshot.sequences.items():
            connection.execute(text(f"SELECT setval('\"{name}\"', {int(value)})"))


def _engine_for(url: str) -> Engine:
    engine = _reset_engines.get(url)
    if engine is None:
        engine = _reset_engines[url] = make_engine(url)
    return engine


def forget_reset_engine(url: str) -> None:
    """Close ``reset_postgres``'s connections to ``url`` (before its database is dropped)."""
    engine = _reset_engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def truncate_all(url: str) -> None:
    """Empty every table of the migrated database at ``url`` (PostgreSQL)."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with _engine_for(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
