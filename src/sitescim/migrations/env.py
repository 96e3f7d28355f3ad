"""Alembic environment: the URL comes from the caller or from SITESCIM_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sitescim.db import models  # noqa: F401  (registers the tables)
from sitescim.db.base import Base
from sitescim.db.engine import make_engine
from sitescim.settings import Settings

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as fresh:
            run_with(fresh)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_online()
