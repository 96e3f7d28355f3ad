"""Values identity providers legitimately send are stored, and references stay in their site.

Okta's own SCIM test suite creates ``test.user.<random>@okta.local`` with the
8-character password ``1mz050nq``; Active Directory suffixes such as ``.local``
and ``.internal`` reach us from Entra ID. SPEC section 2: such addresses are
stored, and the default password policy is NIST SP 800-63B's (at least 8
characters, no composition rules), which a site may raise.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from sitescim.db.models import User, UserValue
from sitescim.domain.errors import InvalidInputError
from sitescim.services import sites
from tests.factories import bearer, make_token, make_user, patch_body
from tests.integration.scim.idp.conftest import ENTERPRISE_URN, USER_URN, sample


def _user(user_name: str, **attributes: object) -> dict[str, object]:
    return {"schemas": [USER_URN], "userName": user_name, **attributes}


def _count(database, model) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model))


def _stored_user(database, user_id: str) -> User:
    with database.transaction(write=False) as session:
        return session.get(User, user_id)


def test_oktas_test_suite_user_on_okta_local_with_its_password_is_created(
    client, world, auth_a, database
):
    random = uuid.uuid4().hex[:8]
    response = client.post(
        "/scim/v2/Users",
        json=sample("okta-10-test-suite-user-create.json", random=random),
        headers=auth_a,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["emails"][0]["value"] == f"test.user.{random}@okta.local"
    assert "password" not in body
    row = _stored_user(database, body["id"])
    assert world.runtime.passwords.verify("1mz050nq", row.password_hash)


@pytest.mark.parametrize(
    "address",
    [
        "someone@corp.local",
        "someone@example.test",
        "someone@mail.example",
        "someone@ad.corp.internal",
        "someone@localhost",
        "someone@host.invalid",
        "first.last+tag@sub.domain.lan",
    ],
)
def test_addresses_on_internal_and_special_use_domains_are_stored(
    client, auth_a, database, address
):
    created = client.post(
        "/scim/v2/Users", json=_user("u-" + address, emails=[{"value": address}]), headers=auth_a
    )
    assert created.status_code == 201, created.text
    assert created.json()["emails"][0]["value"] == address
    added = client.patch(
        f"/scim/v2/Users/{created.json()['id']}",
        json=patch_body({"op": "add", "path": "emails", "value": [{"value": "x." + address}]}),
        headers=auth_a,
    )
    assert added.status_code == 200, added.text
    assert {e["value"] for e in added.json()["emails"]} == {address, "x." + address}


@pytest.mark.parametrize("address", ["not-an-address", "a@", "@b.local", "a b@c.local", "a@@b"])
def test_addresses_that_are_not_plausible_are_still_refused(client, auth_a, database, address):
    response = client.post(
        "/scim/v2/Users", json=_user("bad", emails=[{"value": address}]), headers=auth_a
    )
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidValue"
    assert _count(database, UserValue) == 0


@pytest.mark.parametrize("password", ["1mz050nq", "aaaaaaaa", "12345678", "ünïcødé!"])
def test_the_default_policy_takes_any_8_characters(client, auth_a, password):
    response = client.post("/scim/v2/Users", json=_user("p", password=password), headers=auth_a)
    assert response.status_code == 201, response.text


def test_the_default_policy_refuses_7_characters_without_echoing_them(client, auth_a, database):
    response = client.post("/scim/v2/Users", json=_user("p", password="1mz050n"), headers=auth_a)
    assert response.status_code == 400
    assert "at least 8 characters" in response.json()["detail"]
    assert "1mz050n" not in response.text


def test_a_site_may_raise_its_password_policy(client, world):
    with world.runtime.db.transaction(write=True) as session:
        sites.create_site(session, world.runtime, "Strict", slug="strict", password_min_length=12)
    make_user(world.runtime, "strict", "root@strict.test", "promaster", "long enough passphrase")
    auth_a = bearer(make_token(world.runtime, "strict", "root@strict.test").value)
    refused = client.post("/scim/v2/Users", json=_user("p", password="1mz050nq"), headers=auth_a)
    assert refused.status_code == 400
    assert "at least 12 characters" in refused.json()["detail"]
    accepted = client.post(
        "/scim/v2/Users", json=_user("p", password="1mz050nq1234"), headers=auth_a
    )
    assert accepted.status_code == 201, accepted.text


def test_a_site_policy_below_nist_is_refused(world):
    with (
        world.runtime.db.transaction(write=True) as session,
        pytest.raises(InvalidInputError, match="from 8") as refused,
    ):
        sites.create_site(session, world.runtime, "Lax", slug="lax", password_min_length=6)
    assert refused.value.field == "password_min_length"


# manager: a user of the same site, never a dangling or cross-site reference


def _manager(value: str) -> dict[str, object]:
    return {"schemas": [USER_URN, ENTERPRISE_URN], ENTERPRISE_URN: {"manager": {"value": value}}}


def test_a_manager_of_another_site_or_of_none_is_refused(client, world, auth_a, auth_b, database):
    boss_a = client.post("/scim/v2/Users", json=_user("boss"), headers=auth_a).json()["id"]
    worker_b = client.post("/scim/v2/Users", json=_user("worker"), headers=auth_b).json()["id"]
    for value in (boss_a, str(uuid.uuid4()), "x" * 300):
        manager = _manager(value)
        created = client.post("/scim/v2/Users", json={**_user("new-b"), **manager}, headers=auth_b)
        assert created.status_code == 400, created.text
        assert created.json()["scimType"] == "invalidValue"
        assert "manager" in created.json()["detail"]
        replaced = client.put(
            f"/scim/v2/Users/{worker_b}", json={**_user("worker"), **manager}, headers=auth_b
        )
        assert replaced.status_code == 400, replaced.text
        patched = client.patch(
            f"/scim/v2/Users/{worker_b}",
            json=patch_body(
                {"op": "replace", "path": f"{ENTERPRISE_URN}:manager", "value": {"value": value}}
            ),
            headers=auth_b,
        )
        assert patched.status_code == 400, patched.text
    assert _stored_user(database, worker_b).manager_id is None
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).where(User.user_name == "new-b")) == 0


def test_a_manager_of_the_same_site_is_stored_with_its_display_name(client, auth_a):
    boss = client.post(
        "/scim/v2/Users", json=_user("boss", displayName="The Boss"), headers=auth_a
    ).json()["id"]
    created = client.post("/scim/v2/Users", json={**_user("w"), **_manager(boss)}, headers=auth_a)
    assert created.status_code == 201, created.text
    manager = created.json()[ENTERPRISE_URN]["manager"]
    assert manager["value"] == boss
    assert manager["displayName"] == "The Boss"


# a cap on multi-valued attributes


@pytest.mark.parametrize(
    ("attribute", "entry"),
    [
        ("emails", lambda i: {"value": f"u{i}@corp.local"}),
        ("phoneNumbers", lambda i: {"value": f"+1 555 {i:04d}"}),
        ("addresses", lambda i: {"streetAddress": f"{i} Main St"}),
        ("roles", lambda i: {"value": f"role-{i}"}),
    ],
)
def test_more_than_100_values_of_an_attribute_are_refused(
    client, auth_a, database, attribute, entry
):
    too_many = [entry(i) for i in range(101)]
    before = _count(database, User)
    response = client.post(
        "/scim/v2/Users", json=_user("many", **{attribute: too_many}), headers=auth_a
    )
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidValue"
    assert "100" in response.json()["detail"]
    assert _count(database, User) == before
    created = client.post(
        "/scim/v2/Users", json=_user("many", **{attribute: too_many[:100]}), headers=auth_a
    )
    assert created.status_code == 201, created.text
    one_more = client.patch(
        f"/scim/v2/Users/{created.json()['id']}",
        json=patch_body({"op": "add", "path": attribute, "value": [too_many[100]]}),
        headers=auth_a,
    )
    assert one_more.status_code == 400, one_more.text
    assert "100" in one_more.json()["detail"]
