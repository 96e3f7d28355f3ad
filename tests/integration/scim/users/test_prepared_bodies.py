"""Bodies are read before the write begins, and answered as if they were read inside it.

A PUT, PATCH or POST body is validated (and a password hashed) before the
write's turn; what it is refused for is raised once the user is found and
If-Match holds, so a 404 or 412 still comes before a 400 about the body, and
every refusal is audited as before. Over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sitescim.db.models import AuditEvent
from tests.factories import patch_body
from tests.integration.scim.users.calls import USER_SCHEMA, create, stored

MISSING = "00000000-0000-4000-8000-000000000000"
BAD_PATCH = patch_body({"op": "frobnicate", "path": "title", "value": "x"})
BAD_PUT = {"schemas": [USER_SCHEMA], "userName": 17, "active": "maybe"}
SHORT_PASSWORD = "short"


def _refusals(world, action: str) -> list[AuditEvent]:
    with world.runtime.db.transaction(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.outcome == "refused")
                .order_by(AuditEvent.id)
            )
        )


def _user(client, auth_a) -> dict:
    return create(client, auth_a, {"schemas": [USER_SCHEMA], "userName": "pia@a.test"})


@pytest.mark.parametrize(("method", "body"), [("patch", BAD_PATCH), ("put", BAD_PUT)])
def test_a_missing_user_is_404_before_its_body_is_400(client, auth_a, method, body):
    response = client.request(
        method.upper(), f"/scim/v2/Users/{MISSING}", json=body, headers=auth_a
    )
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(("method", "body"), [("patch", BAD_PATCH), ("put", BAD_PUT)])
def test_a_stale_if_match_is_412_before_the_body_is_400(client, auth_a, method, body):
    user = _user(client, auth_a)
    headers = {**auth_a, "If-Match": 'W/"stale"'}
    response = client.request(
        method.upper(), f"/scim/v2/Users/{user['id']}", json=body, headers=headers
    )
    assert response.status_code == 412, response.text


@pytest.mark.parametrize(
    ("method", "body", "action"),
    [("patch", BAD_PATCH, "scim.user.patch"), ("put", BAD_PUT, "scim.user.replace")],
)
def test_a_body_refused_before_the_write_is_400_and_audited(
    client, world, auth_a, method, body, action
):
    user = _user(client, auth_a)
    headers = {**auth_a, "If-Match": user["meta"]["version"]}
    response = client.request(
        method.upper(), f"/scim/v2/Users/{user['id']}", json=body, headers=headers
    )
    assert response.status_code == 400, response.text
    [refusal] = _refusals(world, action)
    assert refusal.target_id == user["id"]
    assert refusal.detail["status"] == 400


def test_a_password_refused_by_the_policy_is_412_first_then_400_and_audited(client, world, auth_a):
    user = _user(client, auth_a)
    body = {"schemas": [USER_SCHEMA], "userName": "pia@a.test", "password": SHORT_PASSWORD}
    url = f"/scim/v2/Users/{user['id']}"
    stale = client.put(url, json=body, headers={**auth_a, "If-Match": 'W/"stale"'})
    assert stale.status_code == 412, stale.text
    refused = client.put(url, json=body, headers=auth_a)
    assert refused.status_code == 400, refused.text
    assert "password" in refused.json()["detail"]
    precondition, refusal = _refusals(world, "scim.user.replace")
    assert precondition.detail["status"] == 412
    assert refusal.detail["status"] == 400
    assert refusal.detail["attributes"] == ["password", "userName"]
    assert stored(world, user["id"]).password_hash is None


def test_a_creation_refused_for_its_password_is_audited(client, world, auth_a):
    body = {"schemas": [USER_SCHEMA], "userName": "quin@a.test", "password": SHORT_PASSWORD}
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400, response.text
    [refusal] = _refusals(world, "scim.user.create")
    assert refusal.detail["attributes"] == ["password", "userName"]


def test_a_password_hashed_before_the_write_is_the_one_stored(client, world, auth_a):
    user = _user(client, auth_a)
    body = {"schemas": [USER_SCHEMA], "userName": "pia@a.test", "password": "a fine passphrase"}
    response = client.put(f"/scim/v2/Users/{user['id']}", json=body, headers=auth_a)
    assert response.status_code == 200, response.text
    hashed = stored(world, user["id"]).password_hash
    assert hashed is not None
    assert world.runtime.passwords.verify("a fine passphrase", hashed)
