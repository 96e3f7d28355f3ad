"""The audit log of token management and failed token use; through
the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from sitescim.db.models import AuditEvent
from sitescim.domain.tokens import generate_token
from tests.factories import bearer, make_token, sign_in
from tests.integration.token_rules.calls import (
    SCP,
    TOKENS,
    audit_events,
    audit_rows,
    create_ok,
    instant,
    recorded_statements,
    scim_status,
)
from tests.world import START


def test_audit_log_lists_token_create_and_revoke(client, world, clock):
    sign_in(client, "site-a", world.promaster_a, world.password)
    created = create_ok(client, "Entra ID")
    clock.advance(minutes=1)
    sign_in(client, "site-a", world.promaster_a2, world.password)
    assert client.delete(f"{TOKENS}/{created['id']}").status_code == 200

    events = audit_events(client, "token.")

    summary = [
        (e["action"], e["outcome"], e["actor_label"], e["target_type"], e["target_id"])
        for e in events
    ]
    assert summary == [
        ("token.revoke", "success", world.promaster_a2, "token", created["id"]),
        ("token.create", "success", world.promaster_a, "token", created["id"]),
    ]
    assert all(e["actor_type"] == "user" for e in events)
    assert instant(events[1]["occurred_at"]) == START
    assert instant(events[0]["occurred_at"]) == START + timedelta(minutes=1)
    assert events[1]["detail"] == {"description": "Entra ID", "scope": "scim"}


def test_failed_use_of_a_revoked_token_is_audited_for_its_site(client, world):
    issued = make_token(world.runtime, "site-a", world.promaster_a, "Entra ID")
    sign_in(client, "site-a", world.promaster_a, world.password)
    client.delete(f"{TOKENS}/{issued.id}")

    assert scim_status(client, issued.value) == 401

    [failure] = audit_events(client, "auth.failed")
    assert failure["outcome"] == "failure"
    assert failure["actor_type"] == "token"
    assert failure["actor_id"] == issued.id
    assert failure["detail"] == {"reason": "revoked"}
    assert failure["client_address"] == "testclient"
    assert failure["count"] >= 1
    sign_in(client, "site-b", world.promaster_b, world.password)
    assert audit_events(client, "auth.failed") == []


def test_flood_of_bad_tokens_is_throttled_in_the_audit_log(client, world, database):
    bad = generate_token()

    with recorded_statements(database) as statements:
        statuses = {client.get(SCP, headers=bearer(bad)).status_code for _ in range(200)}

    assert statuses == {401}
    audit_writes = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT")]
    # The throttle writes at most once a second per key; 200 requests take well under 100 s.
    assert 1 <= len(audit_writes) < 100
    rows = audit_rows(database, "auth.failed")
    assert 1 <= len(rows) <= 2
    assert all(row["repeat_count"] >= 1 for row in rows)
    assert all(row["detail"] == {"reason": "unknown"} for row in rows)
    with database.engine.connect() as connection:
        total = connection.execute(
            select(func.sum(AuditEvent.repeat_count)).where(AuditEvent.action == "auth.failed")
        ).scalar_one()
    assert 1 <= total <= 200
