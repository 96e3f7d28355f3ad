"""db.driver: plain statements in a session's transaction, on SQLite and PostgreSQL.

The write path runs its statements on the session's DB-API connection; they
must keep the session's transaction and savepoints (a Bulk operation rolls
back alone) and raise SQLAlchemy's IntegrityError for a refused constraint.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sitescim.db.driver import driver, per_dialect
from sitescim.db.models import AuditEvent, Site
from sitescim.domain.actions import Action
from sitescim.services import audit

_SITE = per_dialect(
    "INSERT INTO sites (id, slug, name, created_at, scim_may_set_promaster,"
    " password_min_length) VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
)


def _add_site(session, slug: str) -> None:
    connection = driver(session)
    now = connection.moment(datetime.now(UTC))
    connection.execute(_SITE, (slug, slug, slug, now, False, 12))


def _add_twice(session) -> None:
    with session.begin_nested():
        _add_site(session, "dropped")
        _add_site(session, "kept")  # the same id: refused


def test_a_savepoint_begun_after_the_connection_was_taken_rolls_back_alone(database):
    with database.transaction(write=True) as session:
        _add_site(session, "kept")
        with pytest.raises(IntegrityError):
            _add_twice(session)
        _add_site(session, "after")
    with database.transaction(write=False) as session:
        slugs = set(session.scalars(select(Site.slug)))
    assert slugs >= {"kept", "after"}
    assert "dropped" not in slugs


def test_an_audit_row_written_plainly_reads_back_as_through_the_orm(database):
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with database.transaction(write=True) as session:
        audit.record(
            session,
            now=moment,
            site_id=None,
            action=Action.SCIM_BULK,
            who=audit.SYSTEM,
            detail={"operations": 2, "names": ["a", "é"]},
        )
    with database.transaction(write=False) as session:
        row = session.scalars(select(AuditEvent)).one()
    assert row.occurred_at == moment
    assert row.action == "scim.bulk"
    assert row.detail == {"operations": 2, "names": ["a", "é"]}
    assert (row.outcome, row.actor_type, row.repeat_count, row.dedup_key) == (
        "success",
        "system",
        1,
        None,
    )
