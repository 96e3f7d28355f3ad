"""SCIM /Users: changes and refusals are audited.

Over real HTTP and real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from sitescim.db.models import AuditEvent
from tests.factories import patch_body
from tests.integration.scim.users.calls import GOOD_PASSWORD, create, full_user, stored, user_id_of


def test_changes_are_audited_with_the_token_and_attribute_names_only(client, world, auth_a):
    created = create(client, auth_a, full_user())
    operation = {"op": "replace", "path": "password", "value": "another long passphrase"}
    url = f"/scim/v2/Users/{created['id']}"
    assert client.patch(url, json=patch_body(operation), headers=auth_a).status_code == 200
    assert client.delete(url, headers=auth_a).status_code == 204
    with world.runtime.db.transaction(write=False) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith("scim.user"))
            .order_by(AuditEvent.id)
        ).all()
        rows = [(e.action, e.actor_type, e.actor_label, e.target_id, e.detail) for e in events]
    assert [row[0] for row in rows] == ["scim.user.create", "scim.user.patch", "scim.user.delete"]
    assert all(row[1] == "token" and row[2] == "Entra ID" for row in rows)
    assert all(row[3] == created["id"] for row in rows)
    assert "password" in rows[0][4]["attributes"]
    assert rows[1][4]["attributes"] == ["password"]
    dumped = json.dumps(rows)
    assert GOOD_PASSWORD not in dumped
    assert "another long passphrase" not in dumped


def test_refused_last_promaster_deactivation_is_audited(client, world, auth_b):
    bob = user_id_of(world, "site-b", world.promaster_b)
    operation = {"op": "replace", "path": "active", "value": False}
    response = client.patch(f"/scim/v2/Users/{bob}", json=patch_body(operation), headers=auth_b)
    assert response.status_code == 409
    assert "last active Promaster" in response.json()["detail"]
    assert stored(world, bob).active is True
    with world.runtime.db.transaction(write=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target_id == bob)).all()
        recorded = [(e.action, e.outcome, e.actor_type, e.site_id) for e in events]
    assert recorded == [("scim.user.patch", "refused", "token", world.site_b)]
