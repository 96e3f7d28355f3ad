"""The migrations build, tear down and rebuild the schema with data in it (habit 7),
and they describe exactly the tables the models declare.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from sitescim.db import migrations
from sitescim.db.base import Base
from sitescim.db.engine import Database, make_engine
from sitescim.db.models import AccessToken, AuditEvent, Site, User, sqlite_search_tables
from sitescim.domain.actions import Action
from sitescim.services.runtime import Runtime
from tests.databases import create_postgres_database
from tests.factories import (
    make_settings,
    make_site,
    make_token,
    make_user,
)

APP_TABLES = {t.name for t in Base.metadata.sorted_tables}


def expected_tables(dialect: str) -> set[str]:
    """The models' tables, and on SQLite the FTS5 search tables of migration 0006
    (virtual tables and their shadows, which no model describes)."""
    return APP_TABLES | (sqlite_search_tables() if dialect == "sqlite" else set())


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails under CI) without PostgreSQL
    with create_postgres_database("sitescim_migrations") as url:
        yield url


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def _counts(database: Database) -> dict[str, int]:
    with database.transaction(write=False) as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Site, User, AccessToken, AuditEvent)
        }


def test_upgrade_downgrade_upgrade_with_data(empty_db_url):
    database = Database(make_engine(empty_db_url))
    settings = make_settings(empty_db_url)
    runtime = Runtime.from_settings(settings, database)
    try:
        assert _tables(database) == set()

        migrations.upgrade(database.engine)
        assert _tables(database) == expected_tables(database.engine.dialect.name)
        make_site(runtime, "Site A", slug="site-a")
        make_user(runtime, "site-a", "ada@a.test", "promaster", "correct horse battery staple")
        make_token(runtime, "site-a", "ada@a.test")  # writes the token and its audit event
        assert _counts(database) == {
            "sites": 1,
            "users": 1,
            "access_tokens": 1,
            "audit_events": 1,
        }

        migrations.downgrade(database.engine, "base")
        assert _tables(database) == set()

        migrations.upgrade(database.engine)
        assert _tables(database) == expected_tables(database.engine.dialect.name)
        assert set(_counts(database).values()) == {0}
        make_site(runtime, "Site A", slug="site-a")  # the rebuilt schema takes data again
    finally:
        database.dispose()


def test_models_match_the_migrations(db_url):
    """A model change without a migration shows up here as a difference."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            dialect = connection.dialect.name

            search_tables = sqlite_search_tables() if dialect == "sqlite" else set()
            assert search_tables <= set(inspect(connection).get_table_names())

            def applies_here(obj, name, type_, reflected, compare_to):
                """Objects declared for one dialect only (ddl_if) are not expected elsewhere,
                and SQLite's FTS5 search tables have no model (Alembic cannot describe a
                virtual table); their presence is asserted above instead."""
                if type_ == "table" and reflected and name in search_tables:
                    return False
                condition = getattr(obj, "_ddl_if", None)
                return condition is None or condition.dialect in (None, dialect)

            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": applies_here}
            )
            assert context.get_current_revision() == migrations.current_head()
            with warnings.catch_warnings():
                # SQLite cannot reflect expression indexes, and the one the models
                # declare (a PostgreSQL trigram index, ddl_if) does not apply there.
                # On PostgreSQL it is compared like any other index.
                if dialect == "sqlite":
                    warnings.filterwarnings(
                        "ignore", "autogenerate skipping metadata-specified expression-based index"
                    )
                differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_each_migration_keeps_the_data_of_the_one_before(empty_db_url):
    """Step 0001 -> head and back with rows in the tables: nothing is lost either way.

    Rows are written with plain SQL, because the models describe head, not 0001.
    """
    database = Database(make_engine(empty_db_url))
    site = {"id": "s-1", "slug": "site-a", "name": "Site A"}
    user = {"id": "u-1", "site_id": "s-1", "user_name": "Ada@A.test", "key": "ada@a.test"}
    try:
        migrations.upgrade(database.engine, "0001")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sites (id, slug, name, created_at, scim_may_set_promaster,"
                    " password_min_length) VALUES (:id, :slug, :name, CURRENT_TIMESTAMP,"
                    " false, 12)"
                ),
                site,
            )
            connection.execute(
                text(
                    "INSERT INTO users (id, site_id, user_name, user_name_key, active, privilege,"
                    " created_at, updated_at, version) VALUES (:id, :site_id, :user_name, :key,"
                    " true, 'promaster', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                ),
                user,
            )

        migrations.upgrade(database.engine)
        with database.engine.connect() as connection:
            row = connection.execute(
                text("SELECT user_name, privilege, display_name_key FROM users WHERE id = 'u-1'")
            ).one()
        assert tuple(row) == ("Ada@A.test", "promaster", None)
        with database.engine.connect() as connection:
            counts = connection.execute(
                text("SELECT site_id, resource, total FROM resource_counts")
            )
            assert [tuple(count) for count in counts] == [("s-1", "users", 1)]

        migrations.downgrade(database.engine, "0001")
        with database.engine.connect() as connection:
            names = connection.execute(text("SELECT user_name FROM users")).scalars().all()
            slugs = connection.execute(text("SELECT slug FROM sites")).scalars().all()
        assert names == ["Ada@A.test"]
        assert slugs == ["site-a"]
        assert "groups" not in _tables(database)
    finally:
        database.dispose()


def _stored_actions(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        query = text("SELECT action FROM audit_events ORDER BY id")
        return list(connection.execute(query).scalars())


def test_0008_respells_group_actions_and_back(empty_db_url):
    """Group actions were stored as ``group.*``; 0008 makes them ``scim.group.*`` like users'."""
    old = [
        "group.create",
        "group.replace",
        "group.patch",
        "group.delete",
        "scim.user.create",
        "scim.bulk",
        "token.create",
        "auth.failed",
    ]
    database = Database(make_engine(empty_db_url))
    try:
        migrations.upgrade(database.engine, "0007_site_scim_rate_limit")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, action, outcome, actor_type, detail,"
                    " repeat_count) VALUES (CURRENT_TIMESTAMP, :action, 'success', 'token', '{}', 1)"
                ),
                [{"action": action} for action in old],
            )

        migrations.upgrade(database.engine, "0008_one_audit_vocabulary")
        assert _stored_actions(database) == [
            "scim.group.create",
            "scim.group.replace",
            "scim.group.patch",
            "scim.group.delete",
            "scim.user.create",
            "scim.bulk",
            "token.create",
            "auth.failed",
        ]
        assert set(_stored_actions(database)) <= set(Action)

        migrations.downgrade(database.engine, "0007_site_scim_rate_limit")
        assert _stored_actions(database) == old
    finally:
        database.dispose()
