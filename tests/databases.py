"""PostgreSQL for tests: where it is, whether it answers, databases of a test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
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


def truncate_all(url: str) -> None:
    """Empty every table of the migrated database at ``url`` (PostgreSQL)."""
    engine = make_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
