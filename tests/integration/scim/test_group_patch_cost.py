"""A PATCH naming one member costs the same in a group of 10 as in a group of 2,000 (issue 9).

The service is called as the web layer calls it when the client asks for no
members back (``with_members=False``), on a database whose planner statistics
are fresh (SQLite gathers them at start and daily, PostgreSQL by autovacuum):
stale or missing statistics hide plans that walk the whole group.

"Work" is the database's own count: SQLite's virtual-machine steps (a progress
handler called every few instructions), PostgreSQL's rows of ``group_members``
read by scans (``pg_stat_user_tables``, flushed at commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select, text

from sitescim.db.engine import Database
from sitescim.db.models import AuditEvent, Group
from sitescim.services import group_creation
from sitescim.services import groups as group_service
from sitescim.services.tokens import AuthenticatedToken
from tests.factories import PATCH_URN
from tests.integration.scim.rows import add_member_rows, add_users, member_count

SMALL, LARGE = 10, 2_000
BASE_URL = "http://testserver/scim/v2"
STEP = 10  # SQLite VM instructions per progress-handler call


@dataclass
class Work:
    statements: list[str] = field(default_factory=list)
    steps: int = 0  # SQLite VM steps / STEP, or PostgreSQL rows of group_members read


def _members_rows_read(database: Database) -> int:
    with database.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
                "FROM pg_stat_user_tables WHERE relname = 'group_members'"
            )
        ).one()
        return int(row[0])


@contextmanager
def measured(database: Database) -> Iterator[Work]:
    """Statements sent and work done by the database in the block."""
    work = Work()
    sqlite = database.dialect == "sqlite"

    def count_step() -> int:
        work.steps += 1
        return 0

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        work.statements.append(statement)
        if sqlite:
            conn.connection.driver_connection.set_progress_handler(count_step, STEP)

    def after(conn: Any, *args: Any) -> None:
        if sqlite:
            conn.connection.driver_connection.set_progress_handler(None, STEP)

    read_before = 0 if sqlite else _members_rows_read(database)
    event.listen(database.engine, "before_cursor_execute", before)
    event.listen(database.engine, "after_cursor_execute", after)
    try:
        yield work
    finally:
        event.remove(database.engine, "before_cursor_execute", before)
        event.remove(database.engine, "after_cursor_execute", after)
    if not sqlite:
        work.steps = _members_rows_read(database) - read_before


def analyse(database: Database) -> None:
    """Planner statistics as a running server has them."""
    database.refresh_statistics()
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def add_group(runtime, token: AuthenticatedToken, name: str) -> str:
    with runtime.db.transaction(write=True) as session:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
        created = group_creation.create_group(session, runtime, token, body, base_url=BASE_URL)
        return created.group.id


def patch_one_in_one_out(runtime, token, group_id: str, new: list[str], old: str) -> Work:
    body = {
        "schemas": [PATCH_URN],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": value} for value in new]},
            {"op": "remove", "path": f'members[value eq "{old}"]'},
        ],
    }
    with measured(runtime.db) as work, runtime.db.transaction(write=True) as session:
        if runtime.db.dialect == "postgresql":
            session.execute(text("SELECT pg_stat_force_next_flush()"))
        result = group_service.patch_group(
            session, runtime, token, group_id, body, base_url=BASE_URL, with_members=False
        )
        assert result.members is None
    return work


def test_one_member_in_one_out_costs_the_same_at_10_and_2000_members(world, database, token_a):
    runtime = world.runtime
    users = add_users(database, world.site_a, LARGE + 4)
    small, large = add_group(runtime, token_a, "Small"), add_group(runtime, token_a, "Large")
    nested = {
        small: add_group(runtime, token_a, "In small"),
        large: add_group(runtime, token_a, "In large"),
    }
    add_member_rows(database, world.site_a, small, users[:SMALL])
    add_member_rows(database, world.site_a, large, users[:LARGE])
    analyse(database)

    # One user and one group in (so the cycle check runs), one user out.
    costs = {
        size: patch_one_in_one_out(
            runtime, token_a, group_id, [users[LARGE + n], nested[group_id]], users[0]
        )
        for n, (size, group_id) in enumerate(((SMALL, small), (LARGE, large)))
    }

    assert costs[LARGE].statements == costs[SMALL].statements
    # 12 for the change itself, and the event outbox's: its INSERT and, at commit, its
    # numbering (on PostgreSQL the advisory lock, the largest position, the UPDATE).
    assert len(costs[LARGE].statements) <= 16
    # The same plan on a group 200 times larger: a walk over its rows would
    # cost thousands more steps (SQLite) or 2,000 rows read (PostgreSQL).
    assert costs[LARGE].steps <= costs[SMALL].steps + 10, (costs[SMALL].steps, costs[LARGE].steps)
    if database.dialect == "postgresql":
        assert costs[LARGE].steps <= 4  # the removed row and the conflict probe, not the group
    else:
        # Nor does it walk the whole table: the cycle check once scanned every
        # membership row of the site (~600 steps here) to find the group's parents.
        assert costs[LARGE].steps <= 100, costs[LARGE].steps
    assert member_count(database, small) == SMALL + 1
    assert member_count(database, large) == LARGE + 1
    with database.transaction(write=False) as session:
        versions = {row.id: row.version for row in session.execute(select(Group.id, Group.version))}
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "scim.group.patch")
            .order_by(AuditEvent.id)
        ).all()
    assert versions[small] == versions[large] == 2
    assert [(event.target_id, event.detail) for event in events] == [
        (small, {"attributes": ["members"]}),
        (large, {"attributes": ["members"]}),
    ]


def test_remove_by_a_filter_on_type_or_display_deletes_in_one_statement(world, database, token_a):
    """members[type eq "Group"] cannot name its rows up front: the database picks them."""
    runtime = world.runtime
    users = add_users(database, world.site_a, 3)
    group, inner = add_group(runtime, token_a, "Outer"), add_group(runtime, token_a, "Inner")
    add_member_rows(database, world.site_a, group, users)
    body = {
        "schemas": [PATCH_URN],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": inner}]},
            {"op": "remove", "path": 'members[type eq "Group" or display eq "MEMBER 1"]'},
        ],
    }
    with measured(runtime.db) as work, runtime.db.transaction(write=True) as session:
        group_service.patch_group(
            session, runtime, token_a, group, body, base_url=BASE_URL, with_members=False
        )
    assert not [s for s in work.statements if s.lstrip().upper().startswith("SELECT group_members")]
    with database.transaction(write=False) as session:
        left = group_service.get_group(session, token_a, group).members or []
    assert {member.value for member in left} == {users[0], users[2]}
