"""Recording an event costs the same with 20 events kept as with 3,000: every write pays it.

"Work" is the database's own count while a change's events are written and
numbered: SQLite's virtual-machine steps (a progress handler), PostgreSQL's
rows of ``events`` read by scans (``pg_stat_user_tables``, flushed at commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, insert, text

from sitescim.db.application_tables import Event
from sitescim.db.engine import Database
from sitescim.domain.events import EventType
from sitescim.services import events
from sitescim.services.audit import SYSTEM
from tests.world import World

STEP = 10  # SQLite VM instructions per progress-handler call


def _rows_read(database: Database) -> int:
    with database.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
                "FROM pg_stat_user_tables WHERE relname = 'events'"
            )
        ).one()
        return int(row[0])


@contextmanager
def _measured(database: Database) -> Iterator[list[int]]:
    work = [0]
    sqlite = database.dialect == "sqlite"

    def count_step() -> int:
        work[0] += 1
        return 0

    def before(conn: Any, *_: Any) -> None:
        if sqlite:
            conn.connection.driver_connection.set_progress_handler(count_step, STEP)

    def after(conn: Any, *_: Any) -> None:
        if sqlite:
            conn.connection.driver_connection.set_progress_handler(None, STEP)

    read_before = 0 if sqlite else _rows_read(database)
    event.listen(database.engine, "before_cursor_execute", before)
    event.listen(database.engine, "after_cursor_execute", after)
    try:
        yield work
    finally:
        event.remove(database.engine, "before_cursor_execute", before)
        event.remove(database.engine, "after_cursor_execute", after)
    if not sqlite:
        work[0] = _rows_read(database) - read_before


def _record_one(world: World) -> int:
    runtime = world.runtime
    with _measured(runtime.db) as work, runtime.db.transaction(write=True) as session:
        if runtime.db.dialect == "postgresql":
            session.execute(text("SELECT pg_stat_force_next_flush()"))
        new = events.NewEvent(
            EventType.USER_UPDATED, world.site_a, "u", {"id": "u"}, SYSTEM, runtime.clock()
        )
        events.emit(session, new)
    return work[0]


def _keep(world: World, count: int) -> None:
    """``count`` more numbered events, inserted straight into the table."""
    with world.runtime.db.transaction(write=True) as session:
        start = session.execute(text("SELECT coalesce(max(position), 0) FROM events")).scalar_one()
        rows = [
            {
                "position": start + n + 1,
                "type": "user.updated",
                "site_id": world.site_a,
                "occurred_at": world.runtime.clock(),
                "actor_type": "system",
                "resource_type": "user",
                "resource_id": "u",
                "data": {"id": "u"},
            }
            for n in range(count)
        ]
        session.execute(insert(Event), rows)


def test_numbering_reads_only_the_new_rows_however_many_are_kept(world: World) -> None:
    """With the statistics ``db upgrade`` left when the table was nearly empty, as a
    SQLite file keeps them until its next ANALYZE while the table grows."""
    with world.runtime.db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE events")
        connection.commit()
    _keep(world, 20)
    _record_one(world)  # warm: statements compiled, pages cached
    few = _record_one(world)
    _keep(world, 3_000)
    _record_one(world)
    many = _record_one(world)
    # A scan of the table would cost thousands of steps (SQLite) or 3,000 rows (PostgreSQL).
    assert many <= few + 20, (few, many)
