"""SITESCIM_SCIM_STRICT=true: every quirk gets the RFC's error and changes nothing.

One case per quirk the compatibility layer rewrites by default; each is sent to a
service in strict mode and must be refused with a SCIM 400 and its scimType,
leaving the stored user or group exactly as it was. What the RFCs themselves
allow (attribute names in any case, RFC 7643 §2.1 and RFC 7644 §3.10) keeps
working in strict mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import patch_body
from tests.integration.scim.idp.conftest import (
    ENTERPRISE_URN,
    GROUP_URN,
    USER_URN,
    sample,
)


@dataclass(frozen=True)
class Setup:
    user: str
    manager: str
    group: str


@pytest.fixture
def setup(strict_client, auth_a) -> Setup:
    def user(name: str) -> str:
        response = strict_client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": name, "active": True},
            headers=auth_a,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    member, manager = user("member@strict.example.com"), user("boss@strict.example.com")
    group = strict_client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Strict", "members": [{"value": member}]},
        headers=auth_a,
    )
    assert group.status_code == 201, group.text
    return Setup(member, manager, group.json()["id"])


@dataclass(frozen=True)
class Quirk:
    method: str
    url: str  # {user} and {group} are filled in
    body: Any  # a callable of Setup, or a payload
    scim_type: str


QUIRKS: dict[str, Quirk] = {
    "op spelled Replace": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body({"op": "Replace", "path": "displayName", "value": "X"}),
        "invalidValue",
    ),
    "active as the string False (PATCH)": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body({"op": "replace", "path": "active", "value": "False"}),
        "invalidValue",
    ),
    "active as a string inside a pathless value": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body({"op": "replace", "value": {"active": "false"}}),
        "invalidValue",
    ),
    "primary as a string (POST)": Quirk(
        "POST",
        "/scim/v2/Users",
        lambda s: {
            "schemas": [USER_URN],
            "userName": "new@strict.example.com",
            "emails": [{"value": "new@strict.example.com", "primary": "True"}],
        },
        "invalidValue",
    ),
    "dotted key in a pathless value": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body({"op": "replace", "value": {"name.givenName": "G"}}),
        "invalidValue",
    ),
    "extension URN key in a pathless value": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body({"op": "add", "value": {f"{ENTERPRISE_URN}:department": "D"}}),
        "invalidValue",
    ),
    "dotted key in a POST body": Quirk(
        "POST",
        "/scim/v2/Users",
        lambda s: {
            "schemas": [USER_URN],
            "userName": "new@strict.example.com",
            "name.givenName": "N",
        },
        "invalidValue",
    ),
    "remove of members naming them in value": Quirk(
        "PATCH",
        "/scim/v2/Groups/{group}",
        lambda s: sample("entra-12-group-remove-members.json", member=s.user),
        "invalidValue",
    ),
    "manager as a plain id": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: sample("entra-05-user-set-manager.json", manager=s.manager),
        "invalidValue",
    ),
    "manager without $ref": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body(
            {"op": "add", "path": f"{ENTERPRISE_URN}:manager", "value": {"value": s.manager}}
        ),
        "invalidValue",
    ),
    "schema URN in another case": Quirk(
        "POST",
        "/scim/v2/Users",
        lambda s: {"schemas": [USER_URN.upper()], "userName": "new@strict.example.com"},
        "invalidValue",
    ),
    "unknown schema URN with no attributes (Entra's ADSCIM Group)": Quirk(
        "POST",
        "/scim/v2/Groups",
        lambda s: sample("entra-09-group-create.json"),
        "invalidValue",
    ),
    # RFC 7644 §3.5.2.3: a filter that matches no value is 400 noTarget.
    "replace of a work mail that does not exist yet": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body(
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@example.com"}
        ),
        "noTarget",
    ),
    "add of a work mail that does not exist yet": Quirk(
        "PATCH",
        "/scim/v2/Users/{user}",
        lambda s: patch_body(
            {"op": "add", "path": 'emails[type eq "work"].value', "value": "w@example.com"}
        ),
        "noTarget",
    ),
}


def snapshot(store, setup: Setup) -> tuple[Any, ...]:
    user = store.user(setup.user)
    group = store.group(setup.group)
    return (
        sorted(store.user_ids("site-a")),
        sorted(store.group_ids("site-a")),
        user.row.version,
        user.row.active,
        user.row.manager_id,
        sorted(user.values),
        group.version,
        group.display_name,
        sorted(store.members(setup.group)),
    )


@pytest.mark.parametrize("name", list(QUIRKS))
def test_strict_mode_refuses_the_quirk_and_changes_nothing(
    strict_client, client, auth_a, store, setup, name
):
    quirk = QUIRKS[name]
    before = snapshot(store, setup)
    url = quirk.url.format(user=setup.user, group=setup.group)

    response = strict_client.request(quirk.method, url, json=quirk.body(setup), headers=auth_a)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["scimType"] == quirk.scim_type, body
    assert snapshot(store, setup) == before
    # The same request to the default service (same database) is accepted.
    accepted = client.request(quirk.method, url, json=quirk.body(setup), headers=auth_a)
    assert accepted.status_code in (200, 201, 204), accepted.text
    assert snapshot(store, setup) != before


def test_strict_mode_still_reads_attribute_names_in_any_case(strict_client, auth_a, store):
    created = strict_client.post(
        "/scim/v2/Users/",
        content=json.dumps(
            {
                "schemas": [USER_URN],
                "USERNAME": "cased@strict.example.com",
                "Name": {"GivenName": "Cased"},
                ENTERPRISE_URN.upper(): {"Department": "Case Studies"},
            }
        ),
        headers={**auth_a, "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    patched = strict_client.patch(
        f"/scim/v2/Users/{user_id}/",
        json=patch_body({"op": "replace", "path": "DISPLAYNAME", "value": "Cased User"}),
        headers=auth_a,
    )
    assert patched.status_code == 200, patched.text
    row = store.user(user_id).row
    assert (row.user_name, row.name_given, row.department, row.display_name) == (
        "cased@strict.example.com",
        "Cased",
        "Case Studies",
        "Cased User",
    )


def test_strict_mode_accepts_rfc_requests_unchanged(strict_client, auth_a, store, setup):
    response = strict_client.patch(
        f"/scim/v2/Groups/{setup.group}",
        json=patch_body({"op": "remove", "path": f'members[value eq "{setup.user}"]'}),
        headers=auth_a,
    )
    assert response.status_code == 204, response.text
    assert store.members(setup.group) == set()
    manager = strict_client.patch(
        f"/scim/v2/Users/{setup.user}",
        json=patch_body(
            {
                "op": "add",
                "path": f"{ENTERPRISE_URN}:manager",
                "value": {
                    "value": setup.manager,
                    "$ref": f"http://testserver/scim/v2/Users/{setup.manager}",
                },
            },
            {"op": "replace", "path": "active", "value": False},
        ),
        headers=auth_a,
    )
    assert manager.status_code == 200, manager.text
    row = store.user(setup.user).row
    assert (row.manager_id, row.active) == (setup.manager, False)
