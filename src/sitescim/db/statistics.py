"""Planner statistics that do not wait for autovacuum.

Both databases choose indexes by statistics that only ANALYZE gathers. SQLite
has none until it is told; PostgreSQL's autovacuum may be off (it is on our
clusters) and lags after a bulk load anyway. So the service refreshes them
itself: after migrations, after large imports, and every few minutes.

PostgreSQL: only the tables whose statistics are missing or stale are
analysed, stale meaning more rows changed since the last ANALYZE than
``STALE_ROWS + STALE_FRACTION * live rows`` (autovacuum's own rule, with its
default threshold and scale factor), read from ``pg_stat_user_tables``. When
nothing changed the call costs one catalogue query. Concurrent callers (several
workers, several instances) do not queue behind each other: whoever does not
get the advisory lock skips, since the holder is doing the work.

SQLite: ``ANALYZE`` with ``analysis_limit``, which bounds the cost to a sample
of each index whatever the table's size (SQLite keeps no count of changed rows
to decide with).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

STALE_ROWS = 50
STALE_FRACTION = 0.1
SQLITE_ANALYSIS_LIMIT = 1000
ADVISORY_LOCK_KEY = 0x5C1E_57A7  # "sitescim statistics"; any constant shared by all instances

_STALE_TABLES = text(
    """
    SELECT schemaname, relname FROM pg_stat_user_tables
    WHERE schemaname = current_schema()
      AND (coalesce(last_analyze, last_autoanalyze) IS NULL
           OR n_mod_since_analyze > :rows + :fraction * n_live_tup)
    ORDER BY relname
    """
)


def refresh_statistics(engine: Engine) -> list[str]:
    """ANALYZE what needs it; return the names of the tables analysed."""
    if engine.dialect.name == "postgresql":
        return _refresh_postgresql(engine)
    if engine.dialect.name == "sqlite":
        return _refresh_sqlite(engine)
    return []


def _refresh_postgresql(engine: Engine) -> list[str]:
    # One transaction and a transaction-level lock: behind PgBouncer in transaction
    # pooling, statements outside a transaction may each reach another server
    # connection, so a session lock could be taken on one and never released.
    with engine.connect() as connection, connection.begin():
        if not connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        ):
            return []
        return _analyse_stale(connection)


def _analyse_stale(connection: Connection) -> list[str]:
    stale = connection.execute(
        _STALE_TABLES, {"rows": STALE_ROWS, "fraction": STALE_FRACTION}
    ).all()
    quote = connection.dialect.identifier_preparer.quote
    for schema, table in stale:
        # Each table's lock (SHARE UPDATE EXCLUSIVE) blocks no reads or writes.
        connection.exec_driver_sql(f"ANALYZE {quote(schema)}.{quote(table)}")
    return [table for _schema, table in stale]


def _refresh_sqlite(engine: Engine) -> list[str]:
    # ANALYZE writes: begun as a reader, the transaction could not become a writer
    # once another connection had written ("database is locked" at once), so it
    # starts IMMEDIATE and queues with the other writers.
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as connection:
        tables = list(
            connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite~_%' ESCAPE '~' ORDER BY name"
            ).scalars()
        )
        connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    return tables
