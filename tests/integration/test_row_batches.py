"""Rows written on the DB-API connection (every change's audit row, Bulk's batches of
users, by executemany or COPY) are stored as Core or the ORM stores them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.models import AuditEvent, Base, User, UserValue, new_id
from sitescim.db.repositories import audit as audit_repo
from sitescim.db.repositories import user_batches
from sitescim.db.repositories.batches import column_values
from sitescim.domain.actions import Action
from sitescim.domain.events import EventType
from sitescim.services import audit
from sitescim.services.audit import Who
from sitescim.services.events import NewEvent, emit, event_row, number_at_commit
from tests.world import World


def _values(world: World, label: str) -> dict[str, object]:
    return audit.event_values(
        now=datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC),
        site_id=world.site_a,
        action=Action.SCIM_USER_CREATE,
        who=Who("token", "token-1", label),
        target=("user", "user-1"),
        address="192.0.2.1",
        detail={"attributes": ["emails", "userName"], "ä": [1, None, True]},
    )


def test_an_audit_row_of_a_batch_is_stored_as_core_stores_it(database, world):
    with database.transaction(write=True) as session:
        audit_repo.add_events(session, [AuditEvent(**_values(world, "core"))])
        audit.record_all(session, [_values(world, "batch"), _values(world, "again")])
    columns = [c.key for c in AuditEvent.__table__.columns if c.key not in ("id", "actor_label")]
    with database.transaction(write=False) as session:
        # The text the database holds, not what the ORM makes of it when read back.
        casts = ", ".join(f"CAST({c!r} AS TEXT)".replace("'", '"') for c in columns)
        rows = session.execute(
            text(f"SELECT actor_label, {casts} FROM audit_events ORDER BY id")  # noqa: S608
        ).all()
        read = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    stored = {row[0]: tuple(row[1:]) for row in rows}
    assert stored["batch"] == stored["core"] == stored["again"]
    assert read[0].occurred_at == read[1].occurred_at
    assert read[1].detail == {"attributes": ["emails", "userName"], "ä": [1, None, True]}


def _user(world: World, name: str) -> tuple[dict[str, object], list[dict[str, object]]]:
    moment = datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
    user = column_values(
        User(
            id=new_id(),
            site_id=world.site_a,
            user_name=name,
            user_name_key=name.casefold(),
            active=False,
            privilege="user",
            version=1,
            created_at=moment,
            updated_at=moment,
            name_given="Ä",
        )
    )
    values = [
        column_values(
            UserValue(
                user_id=user["id"],
                site_id=world.site_a,
                attribute=attribute,
                position=0,
                value="A@b.example",
                value_key="a@b.example",
                type="work",
                primary=primary,
                extra=extra,
            )
        )
        for attribute, primary, extra in (
            ("emails", True, {}),
            ("addresses", None, {"locality": "Zürich", "n": [1, None]}),
        )
    ]
    return user, values


def _stored(session: Session, table: str, user_ids: list[object]) -> list[tuple[object, ...]]:
    """The text the database holds for these users' rows, but their ids and names."""
    owner = "user_id" if table == "user_values" else "id"
    columns = [c.key for c in Base.metadata.tables[table].columns]
    columns = [c for c in columns if c not in ("id", "user_id", "user_name", "user_name_key")]
    casts = ", ".join(f'CAST("{c}" AS TEXT)' for c in columns)
    rows = session.execute(
        text(f"SELECT {casts} FROM {table} WHERE {owner} IN (:a, :b)"),  # noqa: S608
        {"a": user_ids[0], "b": user_ids[1]},
    )
    return sorted(tuple(row) for row in rows)


def test_users_of_a_batch_are_stored_as_the_orm_stores_them(database, world):
    single, single_values = _user(world, "single@rows.test")
    batch, batch_values = _user(world, "batch@rows.test")
    with database.transaction(write=True) as session:
        session.add(User(**single))
        session.flush()
        session.add_all([UserValue(**row) for row in single_values])
        session.flush()
        user_batches.insert_users(session, [batch], batch_values)
    with database.transaction(write=False) as session:
        ids = [single["id"], batch["id"]]
        users = _stored(session, "users", ids)
        values = _stored(session, "user_values", ids)
    assert len(users) == 2
    assert users[0] == users[1]
    assert len(values) == 4
    assert values[0] == values[1]
    assert values[2] == values[3]


def test_a_batch_that_meets_a_taken_user_name_leaves_nothing(database, world):
    first, _ = _user(world, "taken@rows.test")
    again, values = _user(world, "Taken@rows.test")
    with database.transaction(write=True) as session:
        user_batches.insert_users(session, [first], [])
        with pytest.raises(IntegrityError), session.begin_nested():
            user_batches.insert_users(session, [again], values)
        kept = session.scalars(select(User.user_name).where(User.site_id == world.site_a)).all()
        assert "taken@rows.test" in kept
        assert "Taken@rows.test" not in kept


def test_audit_rows_and_events_of_a_batch_are_stored_as_single_changes_store_them(database, world):
    now = datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
    who = Who("token", "token-1", "Entra ID")
    document = {"id": "u-1", "userName": "ä@rows.test", "emails": [{"value": "x", "primary": True}]}
    event = NewEvent(EventType.USER_CREATED, world.site_a, "u-1", document, who, now)
    with database.transaction(write=True) as session:
        audit.record_all(session, [_values(world, "single")])
        user_batches.insert_audit_rows(session, [_values(world, "batch")])
        emit(session, event)
        user_batches.insert_events(session, [event_row(event)])
        number_at_commit(session)
    with database.transaction(write=False) as session:
        audits = _texts(
            session, "audit_events", "actor_label IN ('single', 'batch')", ("id", "actor_label")
        )
        events = _texts(session, "events", "resource_id = 'u-1'", ("id", "position"))
        positions = session.scalars(text("SELECT position FROM events ORDER BY id")).all()
    assert len(audits) == len(events) == 2
    assert audits[0] == audits[1]
    assert events[0] == events[1]
    assert None not in positions


def _texts(session: Session, table: str, where: str, left: tuple[str, ...]) -> list[object]:
    columns = [c.key for c in Base.metadata.tables[table].columns if c.key not in left]
    casts = ", ".join(f'CAST("{c}" AS TEXT)' for c in columns)
    query = f"SELECT {casts} FROM {table} WHERE {where} ORDER BY id"  # noqa: S608
    return [tuple(row) for row in session.execute(text(query))]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL takes them by COPY
def test_a_batch_wider_than_one_statement_is_written_whole_and_searchable(database, world):
    """On SQLite the rows go as multi-row INSERTs of as many rows as the parameter
    limit allows: with a limit of 100, ten users (34 columns) take five."""
    made = [_user(world, f"chunk{n}@rows.test") for n in range(10)]
    with database.transaction(write=True) as session:
        raw = session.connection().connection.driver_connection
        kept = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        try:
            user_batches.insert_users(
                session, [user for user, _ in made], [row for _, rows in made for row in rows]
            )
        finally:
            raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, kept)
    ids = [user["id"] for user, _ in made]
    marks = ", ".join(f":id{n}" for n in range(len(ids)))
    named = {f"id{n}": user_id for n, user_id in enumerate(ids)}
    with database.transaction(write=False) as session:
        query = f"SELECT count(*) FROM users WHERE id IN ({marks})"  # noqa: S608
        users = session.scalar(text(query), named)
        values = session.scalar(
            text(f"SELECT count(*) FROM user_values WHERE user_id IN ({marks})"),  # noqa: S608
            named,
        )
        names = session.scalar(
            text("SELECT count(*) FROM user_name_trigrams WHERE user_name_key MATCH 'chunk'")
        )
        found = session.scalar(
            text(
                """SELECT count(*) FROM user_value_trigrams WHERE folded_value MATCH '"b.example"'"""
            )
        )
    assert (users, values, names, found) == (10, 20, 10, 20)
