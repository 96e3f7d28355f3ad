"""A POST of the plain shape identity providers send skips scim2-models (scim.plain_users)
and is stored exactly as the general path stores it: row, values, audit row and event,
and the same answer. Over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from sitescim.db.application_tables import Event
from sitescim.db.models import AuditEvent, UserValue
from sitescim.db.models import User as UserRow
from sitescim.scim import plain_users
from sitescim.services import user_creation
from tests.integration.scim.users.calls import USER_SCHEMA

ENTRA = {
    "schemas": [USER_SCHEMA],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2f1f6e3c55",
    "userName": "Test_User_ab6490ee@contoso.com",
    "active": False,
    "displayName": "Test User",
    "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb@contoso.com"}],
    "name": {"formatted": "givenName familyName", "familyName": "familyName"},
    "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
    "title": "Engineer",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "Europe/Paris",
    "userType": "Employee",
}
MINIMAL = {"schemas": [USER_SCHEMA], "userName": "Pia@A.test"}


def _without(row: Any, *names: str) -> dict[str, Any]:
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key not in names
    }


def _stored(world, user_id: str) -> dict[str, Any]:
    """What a creation wrote, with what differs between two creations (ids) left out."""
    with world.runtime.db.transaction(write=False) as session:
        user = session.get(UserRow, user_id)
        values = session.scalars(
            select(UserValue).where(UserValue.user_id == user_id).order_by(UserValue.id)
        ).all()
        audited = session.scalars(select(AuditEvent).where(AuditEvent.target_id == user_id)).one()
        event = session.scalars(select(Event).where(Event.resource_id == user_id)).one()
        stored_user = _without(user, "id")
        stored_user["document"] = stored_user["document"].replace(user_id, "<id>")
        return {
            "user": stored_user,
            "values": [_without(row, "id", "user_id") for row in values],
            "audit": _without(audited, "id", "target_id"),
            "event": {
                **_without(event, "id", "position", "resource_id"),
                "data": {
                    **event.data,
                    "id": None,
                    "meta": {**event.data["meta"], "location": None},
                },
            },
        }


def _post(client, auth_a, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    return response.status_code, response.json(), dict(response.headers)


@pytest.mark.parametrize("body", [ENTRA, MINIMAL], ids=["entra", "minimal"])
def test_a_plain_body_is_stored_and_answered_as_the_general_path_does(
    client, world, auth_a, monkeypatch, body
):
    def refuse(*_args: Any) -> Any:
        raise AssertionError("a plain body went through scim2-models")

    with monkeypatch.context() as patched:
        patched.setattr(user_creation, "_validated", refuse)
        plain_status, plain, plain_headers = _post(client, auth_a, body)
    assert plain_status == 201, plain
    fast = _stored(world, plain["id"])
    with world.runtime.db.transaction(write=True) as session:  # free the userName again
        session.query(UserRow).filter(UserRow.id == plain["id"]).delete()

    with monkeypatch.context() as patched:
        patched.setattr(plain_users, "read_plain_user", lambda _body: None)
        status, general, headers = _post(client, auth_a, body)
    assert status == 201, general
    assert _stored(world, general["id"]) == fast
    location = headers.pop("location")
    assert location.endswith(general["id"])
    assert plain_headers.pop("location").endswith(plain["id"])
    for answer in (plain_headers, headers):
        answer.pop("x-request-id", None)
    assert plain_headers == headers
    same = {"id": None, "meta": {**general["meta"], "location": None}}
    assert {**plain, **same} == {**general, **same}


def test_a_taken_user_name_is_still_409_on_the_plain_path(client, auth_a):
    assert _post(client, auth_a, MINIMAL)[0] == 201
    status, error, _headers = _post(client, auth_a, {**MINIMAL, "userName": "pia@a.TEST"})
    assert status == 409
    assert error["scimType"] == "uniqueness"
