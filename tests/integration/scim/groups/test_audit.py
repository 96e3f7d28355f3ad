"""SCIM /Groups: changes are audited.

Over real HTTP, on SQLite and PostgreSQL: membership as rows.
"""

from __future__ import annotations

from sqlalchemy import select

from sitescim.db.models import AuditEvent
from tests.integration.scim.groups.calls import create, patch
from tests.integration.scim.rows import add_users


def test_changes_are_audited_with_the_token_and_attribute_names_only(
    client, world, database, auth_a
):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a, "Secret Project", members=[{"value": a}])
    patch(client, auth_a, group["id"], {"op": "replace", "path": "displayName", "value": "Hidden"})
    client.delete(f"/scim/v2/Groups/{group['id']}", headers=auth_a)
    with database.transaction(write=False) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith("scim.group."))
            .order_by(AuditEvent.id)
        ).all()
    assert [e.action for e in events] == [
        "scim.group.create",
        "scim.group.patch",
        "scim.group.delete",
    ]
    assert {e.actor_type for e in events} == {"token"}
    assert {e.actor_label for e in events} == {"Entra ID"}
    assert {e.target_id for e in events} == {group["id"]}
    assert events[1].detail == {"attributes": ["displayName"]}
    dumped = repr([(e.detail, e.message) for e in events])
    for secret in ("Hidden", "Secret Project", a):
        assert secret not in dumped
