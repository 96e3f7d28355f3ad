"""Planner statistics are kept fresh by the service itself, never left to autovacuum."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from bench.seed import email_rows, user_rows
from sqlalchemy import Engine, insert, text

from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.db.models import User, UserValue
from tests.databases import (
    create_postgres_database,
    find_postgres_unavailable_reason,
)

USERS = 3000
SITE_ID = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def fresh_postgres() -> Iterator[Engine]:
    """A database of this test's own, migrated, with every statistic reset to 'never'."""
    reason = find_postgres_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with create_postgres_database("sitescim_stats") as url:
        engine = make_engine(url)
        try:
            migrations.upgrade(engine)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("SELECT pg_stat_reset()"))
            yield engine
        finally:
            engine.dispose()


def _insert_users(engine: Engine, count: int) -> None:
    """A site and ``count`` users with their e-mail rows, as the bulk loader shapes them."""
    users = user_rows(SITE_ID, 0, count, datetime.now(UTC))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sites (id, slug, name, created_at, scim_may_set_promaster, "
                "password_min_length) VALUES (:id, 'stats', 'Stats', :now, false, 12)"
            ),
            {"id": SITE_ID, "now": datetime.now(UTC)},
        )
        connection.execute(insert(User.__table__), users)  # type: ignore[arg-type]
        connection.execute(insert(UserValue.__table__), email_rows(SITE_ID, users))  # type: ignore[arg-type]
    if engine.dialect.name == "postgresql":
        _publish_row_counts(engine)


def _publish_row_counts(engine: Engine) -> None:
    """Backends publish their row counts at most once a second; a test need not wait."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SELECT pg_stat_force_next_flush()"))


def _analysed(engine: Engine) -> dict[str, datetime | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT relname, last_analyze FROM pg_stat_user_tables "
                "WHERE relname IN ('users', 'user_values')"
            )
        ).all()
    return {name: moment for name, moment in rows}


@pytest.mark.postgresql_only
def test_refresh_analyses_tables_never_analysed_then_skips_them_when_unchanged(fresh_postgres):
    database = Database(fresh_postgres)
    _insert_users(fresh_postgres, USERS)
    assert _analysed(fresh_postgres) == {"users": None, "user_values": None}

    analysed = database.refresh_statistics()

    assert {"users", "user_values", "sites"} <= set(analysed)
    stamps = _analysed(fresh_postgres)
    assert all(stamps.values()), stamps
    with fresh_postgres.connect() as connection:
        estimated = connection.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'users'")
        )
        assert estimated == USERS
        assert connection.scalar(text("SELECT count(*) FROM pg_stats WHERE tablename = 'users'"))

    started = time.perf_counter()
    assert database.refresh_statistics() == []
    assert time.perf_counter() - started < 1.0
    assert _analysed(fresh_postgres) == stamps


@pytest.mark.postgresql_only
def test_refresh_analyses_again_once_a_tenth_of_the_rows_changed(fresh_postgres):
    database = Database(fresh_postgres)
    _insert_users(fresh_postgres, 1000)
    assert "users" in database.refresh_statistics()
    with fresh_postgres.begin() as connection:
        # user3..: 111 rows, under 50 + 10 % of 1000
        connection.execute(text("UPDATE users SET title = 'x' WHERE user_name LIKE 'user3%'"))
    _publish_row_counts(fresh_postgres)
    assert database.refresh_statistics() == []

    with fresh_postgres.begin() as connection:
        # user1.., user2..: 222 rows, over 50 + 10 % of 1000
        connection.execute(
            text(
                "UPDATE users SET title = 'x' WHERE user_name LIKE 'user1%' OR user_name LIKE 'user2%'"
            )
        )
    _publish_row_counts(fresh_postgres)

    assert database.refresh_statistics() == ["users"]
    assert database.refresh_statistics() == []


def test_refresh_gives_sqlite_its_statistics(sqlite_template, tmp_path):
    path = tmp_path / "sitescim.db"
    shutil.copy(sqlite_template, path)
    database = Database(make_engine(f"sqlite:///{path}"))
    try:
        _insert_users(database.engine, 500)
        assert "users" in database.refresh_statistics()
        with database.engine.connect() as connection:
            stats = connection.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'users' AND idx IS NOT NULL"
            ).scalars()
            assert {int(stat.split()[0]) for stat in stats} == {500}
    finally:
        database.dispose()
