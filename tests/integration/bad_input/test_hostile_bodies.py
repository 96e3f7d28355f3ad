"""Hostile bodies (deep nesting, lone surrogates, NUL) are refused on every endpoint, on either
database (issue 10).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sitescim.db.models import User
from tests.integration.bad_input.calls import (
    BULK_URN,
    GROUP_URN,
    PATCH_URN,
    SEARCH_URN,
    TOKENS,
    USER_URN,
    assert_api_error,
    assert_scim_error,
    count_tokens,
)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def scim_bodies(user_id: str, group_id: str, value: str) -> list[tuple[str, str, str]]:
    """(method, path, raw JSON) for every SCIM body endpoint, ``value`` placed where
    each one reads values."""
    user = f'{{"schemas":["{USER_URN}"],"userName":"u1","name":{{"givenName":{value}}}}}'
    group = f'{{"schemas":["{GROUP_URN}"],"displayName":{value}}}'
    patch = f'{{"schemas":["{PATCH_URN}"],"Operations":[{{"op":"add","path":"title","value":{value}}}]}}'
    bulk = (
        f'{{"schemas":["{BULK_URN}"],"Operations":['
        f'{{"method":"POST","path":"/Users","bulkId":"q","data":{{"schemas":["{USER_URN}"],"userName":"b1"}}}},'
        f'{{"method":"POST","path":"/Groups","bulkId":"g","data":{{"schemas":["{GROUP_URN}"],'
        f'"displayName":"G","members":[{{"value":{value}}}]}}}}]}}'
    )
    search = f'{{"schemas":["{SEARCH_URN}"],"filter":{value}}}'
    return [
        ("POST", "/scim/v2/Users", user),
        ("PUT", f"/scim/v2/Users/{user_id}", user),
        ("PATCH", f"/scim/v2/Users/{user_id}", patch),
        ("POST", "/scim/v2/Users/.search", search),
        ("POST", "/scim/v2/Groups", group),
        ("PUT", f"/scim/v2/Groups/{group_id}", group),
        ("PATCH", f"/scim/v2/Groups/{group_id}", patch),
        ("POST", "/scim/v2/Groups/.search", search),
        ("POST", "/scim/v2/Bulk", bulk),
    ]


def api_bodies(value: str) -> list[tuple[str, str]]:
    return [
        (TOKENS, f'{{"description":{value},"scope":"scim"}}'),
        ("/api/v1/session", f'{{"site":{value},"email":"x@a.test","password":"p"}}'),
    ]


def _send(client, method: str, path: str, raw: str | bytes):
    content = raw.encode() if isinstance(raw, str) else raw
    return client.request(
        method, path, content=content, headers={"Content-Type": "application/scim+json"}
    )


def count_users(database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("depth", [40, 400, 1000])
def test_deeply_nested_json_is_refused_on_every_scim_body_endpoint(scim, database, depth):
    before = count_users(database)
    value = nested(depth, '"bulkId:q"')  # in Bulk, a reference to resolve at the bottom
    for method, path, raw in scim_bodies(scim.user_id, scim.group_id, value):
        body = assert_scim_error(_send(scim, method, path, raw), 400, scim_type="invalidSyntax")
        assert "nested" in body["detail"] or "JSON" in body["detail"], (method, path, body)
    assert count_users(database) == before


@pytest.mark.parametrize("depth", [40, 400, 1000])
def test_deeply_nested_json_is_refused_on_every_api_body_endpoint(promaster, database, depth):
    for path, raw in api_bodies(nested(depth)):
        response = _send(promaster, "POST", path, raw)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["detail"]
    assert count_tokens(database) == 0


@pytest.mark.parametrize(
    "text",
    ['"x\\ud800"', '"\\udfff"', '"a\\u0000b"', '"\\u0000"'],
    ids=["high", "low", "nul", "only-nul"],
)
def test_lone_surrogates_and_nul_are_refused_in_every_scim_body(scim, database, text):
    before = count_users(database)
    for method, path, raw in scim_bodies(scim.user_id, scim.group_id, text):
        assert_scim_error(_send(scim, method, path, raw), 400, scim_type="invalidSyntax")
    create = f'{{"schemas":["{USER_URN}"],"userName":{text}}}'
    assert_scim_error(_send(scim, "POST", "/scim/v2/Users", create), 400)
    key = f'{{"schemas":["{USER_URN}"],"userName":"k1",{text}:"x"}}'
    assert_scim_error(_send(scim, "POST", "/scim/v2/Users", key), 400)
    assert count_users(database) == before


@pytest.mark.parametrize("text", ['"x\\ud800"', '"a\\u0000b"'], ids=["surrogate", "nul"])
def test_lone_surrogates_and_nul_are_refused_in_every_api_body(promaster, database, text):
    for path, raw in api_bodies(text):
        field = "description" if path == TOKENS else "site"
        body = assert_api_error(_send(promaster, "POST", path, raw), 400, field=field)
        assert "NUL" in body["detail"] or "surrogate" in body["detail"]
    assert count_tokens(database) == 0
