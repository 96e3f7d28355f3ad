"""SQLite short writes (db.short_writes): on the event loop when the lock is free, the long
way when it is not, and the same transaction whichever connection a statement takes."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from sitescim.db.driver import driver, per_dialect
from sitescim.db.engine import Database, make_engine
from sitescim.db.models import AuditEvent, User
from tests.factories import bearer, make_token

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
_AUDIT_COUNT = per_dialect("SELECT count(*) FROM audit_events WHERE action = {p}")


def _deactivation(value: bool = False) -> dict[str, object]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": value}],
    }


@pytest.fixture
def short_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "short.db"
    path.write_bytes(sqlite_template.read_bytes())
    database = Database(make_engine(f"sqlite:///{path}"))
    yield database
    database.dispose()


def _path(database: Database) -> str:
    path = database.engine.url.database
    assert path
    return path


def test_a_short_write_is_refused_at_once_while_another_connection_writes(short_db):
    short = short_db.short_writes()
    assert short is not None
    holder = sqlite3.connect(_path(short_db), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        assert short.begin() is False
        assert time.monotonic() - began < 1  # no busy timeout on the event loop
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert short.begin() is True
    with short.transaction([]):
        pass


def test_a_short_write_waits_for_no_writer_of_this_process_either(short_db):
    short = short_db.short_writes()
    assert short is not None
    with short_db.transaction(write=True) as session:
        session.execute(text("SELECT 1"))  # holds this process's write turn
        assert short.begin() is False
    assert short.begin() is True
    with short.transaction([]):
        pass


def test_statements_of_the_driver_and_of_the_session_share_one_transaction(short_db):
    short = short_db.short_writes()
    assert short is not None
    insert = per_dialect(
        "INSERT INTO sites (id, slug, name, created_at, scim_may_set_promaster,"
        " password_min_length) VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
    )
    assert short.begin()
    with short.transaction([]) as session:
        driver(session).execute(insert, ("s1", "s1", "S1", "2026-01-01 00:00:00", False, 12))
        seen = session.execute(text("SELECT count(*) FROM sites WHERE id = 's1'")).scalar()
        assert seen == 1  # the session's own connection is this transaction's
    with short_db.transaction(write=False) as session:
        assert session.execute(text("SELECT slug FROM sites WHERE id = 's1'")).scalar() == "s1"

    def fail() -> None:
        with short.transaction([]) as session:
            driver(session).execute(insert, ("s2", "s2", "S2", "2026-01-01 00:00:00", False, 12))
            session.execute(text("SELECT 1"))
            raise RuntimeError("rolled back")

    assert short.begin()
    with pytest.raises(RuntimeError):
        fail()
    with short_db.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM sites WHERE id = 's2'")).scalar() == 0
    assert short.begin()  # the lock and the turn were given back
    with short.transaction([]):
        pass


@SQLITE_ONLY
def test_a_patch_while_another_process_holds_the_lock_waits_and_succeeds(
    client, world, auth_a, database
):
    found = client.get(
        "/scim/v2/Users", params={"filter": f'userName eq "{world.user_a}"'}, headers=auth_a
    ).json()["Resources"][0]
    holder = sqlite3.connect(_path(database), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    released.start()
    try:
        response = client.patch(
            f"/scim/v2/Users/{found['id']}", json=_deactivation(), headers=auth_a
        )
    finally:
        released.join()
        holder.close()
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    with database.transaction(write=False) as session:
        active = session.scalar(select(User.active).where(User.id == found["id"]))
        audited = session.scalar(
            select(func.count()).where(AuditEvent.action == "scim.user.deactivate")
        )
    assert active is False
    assert audited == 1


@SQLITE_ONLY
def test_a_refused_short_write_is_audited_off_the_event_loop(client, world, runtime, database):
    """The last Promaster's deactivation is refused (409); its audit row is written by the
    refusal's own transaction, after the short write rolled back."""
    token = bearer(make_token(runtime, "site-b", world.promaster_b).value)
    found = client.get(
        "/scim/v2/Users", params={"filter": f'userName eq "{world.promaster_b}"'}, headers=token
    ).json()["Resources"][0]
    response = client.patch(f"/scim/v2/Users/{found['id']}", json=_deactivation(), headers=token)
    assert response.status_code == 409, response.text
    with database.transaction(write=False) as session:
        refused = session.scalars(
            select(AuditEvent.outcome).where(AuditEvent.target_id == found["id"])
        ).all()
        active = session.scalar(select(User.active).where(User.id == found["id"]))
    assert "refused" in refused
    assert active is True


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_pooled_short_write_is_one_transaction_whichever_connection_asks(database):
    insert = per_dialect(
        "INSERT INTO sites (id, slug, name, created_at, scim_may_set_promaster,"
        " password_min_length) VALUES ({p}, {p}, {p}, now(), {p}, {p})"
    )
    after: list[Callable[[], None]] = []
    with database.pooled_transaction(after) as session:
        driver(session).execute(insert, ("p1", "p1", "P1", False, 12))
        seen = session.execute(text("SELECT count(*) FROM sites WHERE id = 'p1'")).scalar()
        assert seen == 1  # the session's own connection is this transaction's

    def fail() -> None:
        with database.pooled_transaction(after) as session:
            driver(session).execute(insert, ("p2", "p2", "P2", False, 12))
            session.execute(text("SELECT 1"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        fail()
    with database.transaction(write=False) as session:
        found = set(session.scalars(text("SELECT id FROM sites WHERE id IN ('p1', 'p2')")))
    assert found == {"p1"}
    assert after == []
    pool = database.engine.pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
