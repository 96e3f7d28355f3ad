"""Audit rows written on the DB-API connection (every change, Bulk's batches) are stored as
a Core INSERT stores them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from sitescim.db.models import AuditEvent
from sitescim.db.repositories import audit as audit_repo
from sitescim.domain.actions import Action
from sitescim.services import audit
from sitescim.services.audit import Who
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
