"""Versioning (RFC 7644 §3.14): ETags, If-Match and If-None-Match, on Users and Groups.

Every resource response carries ``ETag`` equal to ``meta.version``; PUT, PATCH
and DELETE honour ``If-Match`` (412 on a stale version, and then nothing
changes); GET honours ``If-None-Match`` (304). Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from sitescim.db.models import Group, User
from sitescim.scim.etags import matches_if_none_match

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Kind:
    collection: str
    model: type[Any]
    create: dict[str, Any]
    replace: dict[str, Any]
    patch: dict[str, Any]
    name_column: str
    patch_status: int  # groups answer a PATCH without a selection with 204, users with 200


USERS = Kind(
    "Users",
    User,
    {"schemas": [USER_URN], "userName": "etag@example.com", "displayName": "Before"},
    {"schemas": [USER_URN], "userName": "etag@example.com", "displayName": "Replaced"},
    {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}],
    },
    "display_name",
    200,
)
GROUPS = Kind(
    "Groups",
    Group,
    {"schemas": [GROUP_URN], "displayName": "Before"},
    {"schemas": [GROUP_URN], "displayName": "Replaced"},
    {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}],
    },
    "display_name",
    204,
)
KINDS = pytest.mark.parametrize("kind", [USERS, GROUPS], ids=["users", "groups"])


def stored(database, kind: Kind, resource_id: str) -> tuple[int, str] | None:
    """(version, name) as the database holds them, or None once deleted."""
    with database.transaction(write=False) as session:
        row = session.execute(
            select(kind.model.version, getattr(kind.model, kind.name_column)).where(
                kind.model.id == resource_id
            )
        ).one_or_none()
        return None if row is None else (row[0], row[1])


def create(client, auth_a, kind: Kind) -> tuple[str, str]:
    response = client.post(f"/scim/v2/{kind.collection}", json=kind.create, headers=auth_a)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.headers["ETag"]


def send(client, auth_a, kind: Kind, method: str, resource_id: str, if_match: str | None):
    url = f"/scim/v2/{kind.collection}/{resource_id}"
    headers = dict(auth_a) if if_match is None else {**auth_a, "If-Match": if_match}
    body = {"PUT": kind.replace, "PATCH": kind.patch}.get(method)
    return client.request(method, url, json=body, headers=headers)


@KINDS
def test_every_resource_response_carries_its_etag(client, auth_a, database, kind):
    created = client.post(f"/scim/v2/{kind.collection}", json=kind.create, headers=auth_a)
    resource_id = created.json()["id"]
    responses = [
        created,
        client.get(f"/scim/v2/{kind.collection}/{resource_id}", headers=auth_a),
        send(client, auth_a, kind, "PUT", resource_id, None),
        send(client, auth_a, kind, "PATCH", resource_id, None),
    ]

    tags = []
    for response in responses:
        assert response.status_code in (200, 201, 204), response.text
        if response.status_code != 204:
            assert response.headers["ETag"] == response.json()["meta"]["version"]
        tags.append(response.headers["ETag"])
    assert responses[-1].status_code == kind.patch_status
    assert tags == ['W/"1"', 'W/"1"', 'W/"2"', 'W/"3"']
    assert stored(database, kind, resource_id) == (3, "Patched")


@KINDS
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_stale_if_match_is_412_and_changes_nothing(client, auth_a, database, kind, method):
    resource_id, first = create(client, auth_a, kind)
    send(client, auth_a, kind, "PATCH", resource_id, None)  # someone else wrote version 2

    response = send(client, auth_a, kind, method, resource_id, first)

    assert response.status_code == 412, response.text
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "412"
    assert stored(database, kind, resource_id) == (2, "Patched")


@KINDS
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_that_names_the_current_version_lets_the_write_through(
    client, auth_a, database, kind, method
):
    """The current tag as sent, ``*``, its strong form, or within a list of tags."""
    for spell in (
        lambda etag: etag,
        lambda etag: "*",
        lambda etag: etag.removeprefix("W/"),
        lambda etag: f'W/"41", {etag}',
    ):
        resource_id, etag = create(client, auth_a, kind)

        response = send(client, auth_a, kind, method, resource_id, spell(etag))

        expected = {"DELETE": 204, "PATCH": kind.patch_status}.get(method, 200)
        assert response.status_code == expected, response.text
        after = stored(database, kind, resource_id)
        if method == "DELETE":
            assert after is None
        else:
            assert after is not None
            assert after[0] == 2
            assert response.headers["ETag"] == 'W/"2"'
            send(client, auth_a, kind, "DELETE", resource_id, None)  # userName free again


@KINDS
def test_without_if_match_writes_are_unconditional(client, auth_a, database, kind):
    resource_id, _ = create(client, auth_a, kind)
    assert send(client, auth_a, kind, "PATCH", resource_id, None).status_code == kind.patch_status
    assert send(client, auth_a, kind, "DELETE", resource_id, None).status_code == 204
    assert stored(database, kind, resource_id) is None


@KINDS
def test_if_none_match_with_the_current_version_is_304(client, auth_a, kind):
    resource_id, etag = create(client, auth_a, kind)
    url = f"/scim/v2/{kind.collection}/{resource_id}"

    response = client.get(url, headers={**auth_a, "If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    assert response.content == b""


@KINDS
def test_if_none_match_with_an_old_version_returns_the_resource(client, auth_a, kind):
    resource_id, first = create(client, auth_a, kind)
    send(client, auth_a, kind, "PATCH", resource_id, None)
    url = f"/scim/v2/{kind.collection}/{resource_id}"

    response = client.get(url, headers={**auth_a, "If-None-Match": first})

    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    assert response.json()["meta"]["version"] == 'W/"2"'


@KINDS
@pytest.mark.parametrize("tag", ["*", "strong form"])
def test_if_none_match_compares_weakly_and_takes_a_star(client, auth_a, kind, tag):
    resource_id, etag = create(client, auth_a, kind)
    header = "*" if tag == "*" else etag.removeprefix("W/")

    response = client.get(
        f"/scim/v2/{kind.collection}/{resource_id}", headers={**auth_a, "If-None-Match": header}
    )

    assert response.status_code == 304


def test_service_provider_config_declares_etags(client, auth_a):
    config = client.get("/scim/v2/ServiceProviderConfig", headers=auth_a).json()
    assert config["etag"] == {"supported": True}


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ('W/"3"', True),
        ('"3"', True),
        ("*", True),
        ('W/"2", W/"3"', True),
        ('W/"2"', False),
        ('"33"', False),
    ],
)
def test_if_none_match_compares_weakly(header, matches):
    assert matches_if_none_match(header, 'W/"3"') is matches
