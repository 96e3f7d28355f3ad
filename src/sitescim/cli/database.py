"""``sitescim db upgrade|downgrade`` and ``sitescim check``: the schema and a deployment."""

from __future__ import annotations

import typer

from sitescim.cli.app import app, db_app, fail, load_settings, open_engine
from sitescim.db import migrations


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the schema migrations."""
    with open_engine(load_settings()) as engine:
        migrations.upgrade(engine, revision)
    typer.echo(f"database at revision {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ('base' for an empty database)."""
    with open_engine(load_settings()) as engine:
        migrations.downgrade(engine, revision)
    typer.echo(f"database at revision {revision}")


@app.command("check")
def check() -> None:
    """Check a deployment: settings, database reachable, schema up to date."""
    settings = load_settings()
    with open_engine(settings) as engine:
        try:
            with engine.connect() as connection:
                from alembic.runtime.migration import MigrationContext

                current = MigrationContext.configure(connection).get_current_revision()
        except Exception as error:  # any driver error means the database is not usable
            fail(f"database not reachable: {type(error).__name__}")
    head = migrations.current_head()
    if current != head:
        fail(f"database schema at {current}, expected {head}: run 'sitescim db upgrade'")
    typer.echo(f"ok: database reachable, schema at {head}, environment {settings.environment}")
