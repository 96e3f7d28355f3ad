"""Provisioning activity: every SCIM change, and every refused one, in the audit log.

The token (id and description, never its value), the resource, the names of
the attributes (never their values) and the outcome; readable through
``GET /api/v1/audit`` with filters by time, token and resource.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sitescim.db.models import AuditEvent
from sitescim.services.audit import requested_attributes
from tests.factories import bearer, make_token, patch_body, sign_in
from tests.world import START

AUDIT = "/api/v1/audit"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PASSWORD = "a long enough passphrase"
OTHER_PASSWORD = "another long passphrase"


@pytest.fixture
def entra(world):
    return make_token(world.runtime, "site-a", world.promaster_a, description="Entra ID")


@pytest.fixture
def okta(world):
    return make_token(world.runtime, "site-a", world.promaster_a2, description="Okta")


@pytest.fixture
def promaster(client, world):
    """The client, also signed in as a Promaster of site-a (to read the audit log)."""
    sign_in(client, "site-a", world.promaster_a, world.password)
    return client


def user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": user_name, **extra}


def events(client, **params: Any) -> list[dict[str, Any]]:
    response = client.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def scim_events(client, **params: Any) -> list[dict[str, Any]]:
    """Provisioning events only, oldest first."""
    found = [
        e for e in events(client, limit=500, **params) if e["target_type"] in ("user", "group")
    ]
    return list(reversed(found))


# What is recorded


def test_user_changes_and_refusals_name_the_token_and_attributes_only(promaster, entra):
    headers = bearer(entra.value)
    created = promaster.post(
        "/scim/v2/Users", json=user_body("cleo@a.test", password=PASSWORD), headers=headers
    )
    assert created.status_code == 201
    cleo = created.json()["id"]
    clash = promaster.post(
        "/scim/v2/Users", json=user_body("CLEO@a.test", password=PASSWORD), headers=headers
    )
    assert clash.status_code == 409
    missing = promaster.patch(
        "/scim/v2/Users/no-such-user",
        json=patch_body({"op": "replace", "path": "active", "value": False}),
        headers=headers,
    )
    assert missing.status_code == 404
    weak = promaster.patch(
        f"/scim/v2/Users/{cleo}",
        json=patch_body({"op": "replace", "path": "password", "value": "short"}),
        headers=headers,
    )
    assert weak.status_code == 400
    changed = promaster.patch(
        f"/scim/v2/Users/{cleo}",
        json=patch_body(
            {"op": "add", "path": "emails", "value": [{"value": "cleo@example.com"}]},
            {"op": "replace", "path": "password", "value": OTHER_PASSWORD},
        ),
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    deactivated = promaster.patch(
        f"/scim/v2/Users/{cleo}",
        json=patch_body({"op": "replace", "path": "active", "value": False}),
        headers=headers,
    )
    assert deactivated.status_code == 200
    assert promaster.delete(f"/scim/v2/Users/{cleo}", headers=headers).status_code == 204

    recorded = scim_events(promaster)
    assert [(e["action"], e["outcome"], e["target_id"]) for e in recorded] == [
        ("scim.user.create", "success", cleo),
        ("scim.user.create", "refused", None),
        ("scim.user.patch", "refused", "no-such-user"),
        ("scim.user.patch", "refused", cleo),
        ("scim.user.patch", "success", cleo),
        ("scim.user.deactivate", "success", cleo),
        ("scim.user.delete", "success", cleo),
    ]
    for event in recorded:
        assert event["actor_type"] == "token"
        assert event["actor_id"] == entra.id
        assert event["actor_label"] == "Entra ID"
        assert event["target_type"] == "user"
    create, refused_create, not_found, refused_password, patched, _, _ = recorded
    assert "password" in create["detail"]["attributes"]
    assert refused_create["detail"] == {
        "status": 409,
        "scimType": "uniqueness",
        "attributes": ["password", "userName"],
    }
    assert "already exists" in refused_create["message"]
    assert not_found["detail"] == {"status": 404, "attributes": ["active"]}
    assert refused_password["detail"]["attributes"] == ["password"]
    assert "password" in refused_password["message"]
    assert sorted(patched["detail"]["attributes"]) == ["emails", "password"]
    dumped = json.dumps(events(promaster, limit=500))
    for secret in (PASSWORD, OTHER_PASSWORD, "short", entra.value, "cleo@example.com"):
        assert secret not in dumped


def test_group_refusals_are_recorded_with_the_group(promaster, entra):
    headers = bearer(entra.value)
    unknown_member = promaster.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Team", "members": [{"value": "ghost"}]},
        headers=headers,
    )
    assert unknown_member.status_code == 400
    assert promaster.delete("/scim/v2/Groups/no-such-group", headers=headers).status_code == 404
    recorded = scim_events(promaster)
    assert [(e["action"], e["outcome"], e["target_type"], e["target_id"]) for e in recorded] == [
        ("scim.group.create", "refused", "group", None),
        ("scim.group.delete", "refused", "group", "no-such-group"),
    ]
    assert recorded[0]["detail"] == {
        "status": 400,
        "scimType": "invalidValue",
        "attributes": ["displayName", "members"],
    }
    assert {e["actor_id"] for e in recorded} == {entra.id}


def test_bulk_operations_are_recorded_one_by_one(promaster, database, entra):
    body = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": user_body("dora@a.test")},
            {"method": "POST", "path": "/Users", "bulkId": "e", "data": user_body("dora@a.test")},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g",
                "data": {"displayName": "G", "members": [{"value": "bulkId:d"}]},
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "h",
                "data": {"displayName": "H", "members": [{"value": "bulkId:nobody"}]},
            },
            {"method": "DELETE", "path": "/Groups/no-such-group"},
        ],
    }
    response = promaster.post("/scim/v2/Bulk", json=body, headers=bearer(entra.value))
    assert response.status_code == 200
    statuses = [op["status"] for op in response.json()["Operations"]]
    assert statuses == ["201", "409", "201", "400", "404"]
    recorded = scim_events(promaster)
    outcomes = sorted((e["action"], e["outcome"]) for e in recorded)
    assert outcomes == [
        ("scim.group.create", "refused"),
        ("scim.group.create", "success"),
        ("scim.group.delete", "refused"),
        ("scim.user.create", "refused"),
        ("scim.user.create", "success"),
    ]
    refused_reference = next(
        e for e in recorded if e["action"] == "scim.group.create" and e["outcome"] == "refused"
    )
    assert refused_reference["detail"]["scimType"] == "invalidValue"
    assert "nobody" in refused_reference["message"]
    [summary] = events(promaster, action="scim.bulk")
    assert summary["actor_id"] == entra.id
    assert summary["detail"] == {"operations": 5, "ran": 5, "errors": 3}


def test_a_refusal_its_use_case_records_is_not_recorded_twice(client, database, world):
    token = make_token(world.runtime, "site-b", world.promaster_b)
    listed = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "bob@b.test"'}, headers=bearer(token.value)
    )
    bob = listed.json()["Resources"][0]["id"]
    body = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {
                "method": "PATCH",
                "path": f"/Users/{bob}",
                "data": patch_body({"op": "replace", "path": "active", "value": False}),
            }
        ],
    }
    response = client.post("/scim/v2/Bulk", json=body, headers=bearer(token.value))
    assert response.json()["Operations"][0]["status"] == "409"
    with database.transaction(write=False) as session:
        refusals = session.scalar(
            select(func.count()).where(AuditEvent.target_id == bob, AuditEvent.outcome == "refused")
        )
    assert refusals == 1


# The audit API's filters


@pytest.fixture
def activity(promaster, clock, entra, okta) -> dict[str, Any]:
    """Entra creates a user at START, Okta a group an hour later, Entra patches both at +2h."""
    made = promaster.post(
        "/scim/v2/Users", json=user_body("eve@a.test"), headers=bearer(entra.value)
    )
    user = made.json()["id"]
    clock.advance(hours=1)
    group = promaster.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Ops"},
        headers=bearer(okta.value),
    ).json()["id"]
    clock.advance(hours=1)
    title = patch_body({"op": "replace", "path": "title", "value": "Chief"})
    name = patch_body({"op": "replace", "path": "displayName", "value": "Ops team"})
    promaster.patch(f"/scim/v2/Users/{user}", json=title, headers=bearer(entra.value))
    promaster.patch(f"/scim/v2/Groups/{group}", json=name, headers=bearer(entra.value))
    return {"user": user, "group": group}


def actions(found: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in found]


def test_the_audit_log_filters_by_time_range(promaster, activity):
    hour = timedelta(hours=1)
    since = (START + hour).isoformat()
    assert actions(events(promaster, since=since)) == [
        "scim.group.patch",
        "scim.user.patch",
        "scim.group.create",
    ]
    until = (START + 2 * hour).isoformat()
    assert actions(events(promaster, since=since, until=until)) == ["scim.group.create"]
    zulu = (START + 2 * hour).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert actions(events(promaster, since=zulu)) == ["scim.group.patch", "scim.user.patch"]
    offset = (START + 2 * hour).astimezone().isoformat()
    assert actions(events(promaster, since=offset)) == ["scim.group.patch", "scim.user.patch"]
    naive = (START + 2 * hour).replace(tzinfo=None).isoformat()
    assert actions(events(promaster, since=naive)) == ["scim.group.patch", "scim.user.patch"]


def test_the_audit_log_filters_by_token(promaster, activity, entra, okta):
    by_entra = events(promaster, token_id=entra.id)
    assert actions(by_entra) == ["scim.group.patch", "scim.user.patch", "scim.user.create"]
    assert {e["actor_label"] for e in by_entra} == {"Entra ID"}
    assert actions(events(promaster, token_id=okta.id)) == ["scim.group.create"]
    assert events(promaster, token_id="no-such-token") == []


def test_the_audit_log_filters_by_resource(promaster, activity):
    assert actions(events(promaster, resource_type="group")) == [
        "scim.group.patch",
        "scim.group.create",
    ]
    assert actions(events(promaster, resource_type="User")) == [
        "scim.user.patch",
        "scim.user.create",
    ]
    one = events(promaster, resource_id=activity["user"])
    assert actions(one) == ["scim.user.patch", "scim.user.create"]
    assert {e["target_id"] for e in one} == {activity["user"]}
    both = events(promaster, resource_type="group", resource_id=activity["user"])
    assert both == []


def test_the_audit_log_filters_by_action_prefix_across_users_and_groups(promaster, activity):
    assert actions(events(promaster, action="scim.")) == [
        "scim.group.patch",
        "scim.user.patch",
        "scim.group.create",
        "scim.user.create",
    ]
    assert actions(events(promaster, action="scim.group")) == [
        "scim.group.patch",
        "scim.group.create",
    ]
    assert actions(events(promaster, action="scim.user.patch")) == ["scim.user.patch"]
    assert events(promaster, action="group.") == []


def test_a_last_full_page_has_no_next_page(promaster, activity):
    everything = events(promaster, limit=500)
    page = promaster.get(AUDIT, params={"limit": len(everything)}).json()
    assert len(page["events"]) == len(everything)
    assert page["next_before_id"] is None


def test_filters_keep_newest_first_paging(promaster, activity, entra):
    everything = events(promaster, token_id=entra.id, limit=500)
    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"token_id": entra.id, "limit": 1}
        if before is not None:
            params["before_id"] = before
        page = promaster.get(AUDIT, params=params).json()
        seen += [e["id"] for e in page["events"]]
        before = page["next_before_id"]
        if before is None:
            break
    assert seen == [e["id"] for e in everything]
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"since": "2026-03-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"resource_type": "robot"}, "resource_type"),
        ({"limit": 0}, "limit"),
        ({"before_id": "abc"}, "before_id"),
    ],
)
def test_bad_filters_are_400_with_the_field(promaster, params, field):
    response = promaster.get(AUDIT, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"].split(".")[-1] == field  # FastAPI's own checks say "query.limit"
    assert body["detail"]


def test_another_sites_promaster_sees_none_of_it(client, world, activity):
    sign_in(client, "site-b", world.promaster_b, world.password)
    assert events(client, resource_id=activity["user"]) == []
    assert all(e["target_id"] != activity["group"] for e in events(client, limit=500))


def test_requested_attributes_keep_names_and_drop_filter_values():
    assert requested_attributes(
        patch_body(
            {"op": "add", "path": 'emails[type eq "work"].value', "value": "x@y.test"},
            {"op": "remove", "path": 'members[value eq "secret-id"]'},
            {"op": "replace", "value": {"name.givenName": "Ann", "active": False}},
        )
    ) == ["active", "emails", "members", "name.givenName"]
    assert requested_attributes(user_body("ann", password="p", meta={}, id="x")) == [
        "password",
        "userName",
    ]
    assert requested_attributes("not a body") == []
