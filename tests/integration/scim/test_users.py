"""SCIM /Users over real HTTP and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from sitescim.db.models import AuditEvent, Site
from sitescim.db.models import User as UserRow
from tests.factories import patch_body

SAMPLES = Path(__file__).parent.parent.parent / "samples"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SITESCIM = "urn:sitescim:params:scim:schemas:extension:sitescim:2.0:User"
GOOD_PASSWORD = "a long enough passphrase"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def full_user() -> dict:
    body = sample("rfc7643-8.2-user-full.json")
    body["password"] = GOOD_PASSWORD
    return body


def create(client, headers, body: dict) -> dict:
    response = client.post("/scim/v2/Users", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def user_id_of(world, site_slug: str, user_name: str) -> str:
    with world.runtime.db.transaction(write=False) as session:
        site = session.scalar(select(Site).where(Site.slug == site_slug))
        return session.scalar(
            select(UserRow.id).where(
                UserRow.site_id == site.id, UserRow.user_name_key == user_name.casefold()
            )
        )


def stored(world, user_id: str) -> UserRow:
    with world.runtime.db.transaction(write=False) as session:
        row = session.get(UserRow, user_id)
        assert row is not None
        session.expunge(row)
        return row


def allow_scim_promaster(world, slug: str = "site-a") -> None:
    with world.runtime.db.transaction(write=True) as session:
        site = session.scalar(select(Site).where(Site.slug == slug))
        site.scim_may_set_promaster = True


# Create


def test_create_answers_201_with_location_etag_and_meta(client, world, auth_a):
    response = client.post("/scim/v2/Users", json=full_user(), headers=auth_a)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    location = f"http://testserver/scim/v2/Users/{body['id']}"
    assert response.headers["Location"] == location
    assert body["meta"] == {
        "resourceType": "User",
        "created": "2026-03-01T12:00:00Z",
        "lastModified": "2026-03-01T12:00:00Z",
        "location": location,
        "version": 'W/"1"',
    }
    assert response.headers["ETag"] == body["meta"]["version"]
    assert body["id"] != "2819c223-7f76-453a-919d-413861904646"  # id is ours, not the client's
    assert body["userName"] == "bjensen@example.com"
    assert body["name"]["honorificSuffix"] == "III"
    assert body["emails"][0] == {"value": "bjensen@example.com", "type": "work", "primary": True}
    assert body["addresses"][0]["postalCode"] == "91608"
    assert body["x509Certificates"][0]["value"].startswith("MIIDQzCC")
    assert "groups" not in body  # read-only: the sample's groups are ignored


def test_created_user_reads_back_the_same(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a)
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == 'W/"1"'


def test_scim_created_user_starts_as_user_even_if_it_asks_for_promaster(client, world, auth_a):
    body = sample("rfc7644-3.3-user-post.json")
    body["schemas"].append(SITESCIM)
    body[SITESCIM] = {"privilege": "promaster"}
    created = create(client, auth_a, body)
    assert created[SITESCIM] == {"privilege": "user"}
    assert stored(world, created["id"]).privilege == "user"


def test_password_is_hashed_with_argon2_and_never_returned(client, world, auth_a):
    created = create(client, auth_a, full_user())
    assert "password" not in created
    assert "password" not in client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a).text
    row = stored(world, created["id"])
    assert row.password_hash.startswith("$argon2id$")
    assert world.runtime.passwords.verify(GOOD_PASSWORD, row.password_hash)


def test_password_breaking_the_site_policy_is_refused_with_the_reason(client, world, auth_a):
    body = sample("rfc7643-8.2-user-full.json")
    body["password"] = "t1meMa$"  # 7 characters; the default policy asks for 8 (NIST SP 800-63B)
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400
    error = response.json()
    assert error["scimType"] == "invalidValue"
    assert "at least 8 characters" in error["detail"]
    assert "t1meMa$" not in response.text
    assert user_id_of(world, "site-a", "bjensen@example.com") is None


def test_user_name_is_unique_per_site_ignoring_case(client, world, auth_a, auth_b):
    create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    clash = sample("rfc7644-3.3-user-post.json")
    clash["userName"] = "BJensen"
    response = client.post("/scim/v2/Users", json=clash, headers=auth_a)
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    # another site may use the name
    assert client.post("/scim/v2/Users", json=clash, headers=auth_b).status_code == 201


def test_missing_user_name_and_unknown_attributes_are_400(client, world, auth_a):
    response = client.post(
        "/scim/v2/Users", json={"schemas": [USER_SCHEMA], "displayName": "x"}, headers=auth_a
    )
    assert response.status_code == 400
    body = sample("rfc7644-3.3-user-post.json") | {"shoeSize": 42}
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_over_long_attribute_is_400_not_500(client, world, auth_a):
    body = sample("rfc7644-3.3-user-post.json") | {"title": "x" * 300}
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_enterprise_extension_round_trips(client, world, auth_a):
    boss = create(client, auth_a, {"schemas": [USER_SCHEMA], "userName": "jsmith"})["id"]
    body = sample("rfc7643-8.3-enterprise-user.json")
    body[ENTERPRISE]["manager"]["value"] = boss  # a manager must be a user of the site
    created = create(client, auth_a, body)
    enterprise = created[ENTERPRISE]
    assert enterprise["department"] == "Tour Operations"
    assert enterprise["employeeNumber"] == "701984"
    assert enterprise["manager"]["value"] == boss
    assert (
        enterprise["manager"]["displayName"] == "jsmith"
    )  # read-only: the manager's, not "John Smith"
    assert ENTERPRISE in created["schemas"]


# Read


def test_if_none_match_with_current_etag_is_304(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    assert client.get(url, headers=auth_a | {"If-None-Match": 'W/"1"'}).status_code == 304
    assert client.get(url, headers=auth_a | {"If-None-Match": 'W/"0"'}).status_code == 200


def test_attributes_and_excluded_attributes_select_the_body(client, world, auth_a):
    created = create(client, auth_a, full_user())
    url = f"/scim/v2/Users/{created['id']}"
    only = client.get(url, params={"attributes": "userName,emails.value"}, headers=auth_a)
    assert set(only.json()) == {"schemas", "id", "userName", "emails"}
    assert only.json()["emails"][0] == {"value": "bjensen@example.com"}
    without = client.get(url, params={"excludedAttributes": "emails,name"}, headers=auth_a)
    assert "emails" not in without.json()
    assert "name" not in without.json()
    assert without.json()["userName"] == "bjensen@example.com"


def test_list_pages_with_start_index_and_count(client, world, auth_a):
    for index in range(3):
        create(client, auth_a, {"schemas": [USER_SCHEMA], "userName": f"page{index}"})
    first = client.get("/scim/v2/Users", params={"count": 2}, headers=auth_a).json()
    assert first["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert first["totalResults"] == 7  # 4 local users of site A + 3
    assert first["itemsPerPage"] == 2
    rest = client.get(
        "/scim/v2/Users", params={"startIndex": 3, "count": 10}, headers=auth_a
    ).json()
    assert rest["startIndex"] == 3
    assert rest["itemsPerPage"] == 5
    ids = [user["id"] for user in first["Resources"] + rest["Resources"]]
    assert len(set(ids)) == 7
    assert (
        client.get("/scim/v2/Users", params={"count": 0}, headers=auth_a).json()["Resources"] == []
    )


def test_list_loads_the_values_of_a_page_in_one_query(client, world, auth_a, database):
    """With a selection a page takes the SQLAlchemy path; without one, the hot reader's
    single statement (test_pages), which never reaches the engine."""
    from sqlalchemy import event

    for index in range(5):
        body = {
            "schemas": [USER_SCHEMA],
            "userName": f"many{index}",
            "emails": [{"value": f"many{index}@example.com"}],
            "roles": [{"value": "reader"}],
        }
        create(client, auth_a, body)
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", remember)
    try:
        page = client.get(
            "/scim/v2/Users",
            params={"count": 100, "attributes": "userName,roles"},
            headers=auth_a,
        ).json()
    finally:
        event.remove(database.engine, "before_cursor_execute", remember)
    assert len([user for user in page["Resources"] if "roles" in user]) == 5
    assert len([s for s in statements if "FROM user_values" in s]) == 1


# Replace


def test_put_replaces_clears_absent_attributes_and_bumps_the_version(client, world, auth_a, clock):
    created = create(client, auth_a, full_user())
    clock.advance(minutes=5)
    body = {
        "schemas": [USER_SCHEMA],
        "id": "not-the-id",  # readOnly: ignored
        "userName": "bjensen@example.com",
        "displayName": "Barbara Jensen",
        "emails": [{"value": "barbara@example.com", "type": "work"}],
    }
    response = client.put(f"/scim/v2/Users/{created['id']}", json=body, headers=auth_a)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["id"] == created["id"]
    assert user["displayName"] == "Barbara Jensen"
    assert user["emails"] == [{"value": "barbara@example.com", "type": "work"}]
    assert "name" not in user
    assert "addresses" not in user
    assert user["active"] is True  # absent active keeps the state
    assert user["meta"]["version"] == 'W/"2"' == response.headers["ETag"]
    assert user["meta"]["lastModified"] == "2026-03-01T12:05:00Z"
    assert user["meta"]["created"] == "2026-03-01T12:00:00Z"
    # the password is write-only: a PUT without it keeps it
    assert world.runtime.passwords.verify(GOOD_PASSWORD, stored(world, created["id"]).password_hash)


def test_put_with_nothing_changed_keeps_the_version(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    response = client.put(url, json=sample("rfc7644-3.3-user-post.json"), headers=auth_a)
    assert response.json()["meta"]["version"] == 'W/"1"'


def test_put_renaming_onto_a_taken_user_name_is_409(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    body = {"schemas": [USER_SCHEMA], "userName": world.user_a.upper()}
    response = client.put(f"/scim/v2/Users/{created['id']}", json=body, headers=auth_a)
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_stale_if_match_is_412_and_changes_nothing(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    operation = {"op": "replace", "path": "displayName", "value": "B"}
    stale = auth_a | {"If-Match": 'W/"7"'}
    assert client.patch(url, json=patch_body(operation), headers=stale).status_code == 412
    assert client.delete(url, headers=stale).status_code == 412
    fresh = auth_a | {"If-Match": 'W/"1"'}
    assert client.patch(url, json=patch_body(operation), headers=fresh).status_code == 200


# Patch


def test_patch_replaces_a_value_selected_by_a_filter(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=sample("rfc7644-3.5.2.3-patch-replace-work-email-value.json"),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    emails = response.json()["emails"]
    assert emails[0] == {"value": "bjensen@example.org", "type": "work", "primary": True}
    assert emails[1]["value"] == "babs@jensen.org"
    assert response.json()["meta"]["version"] == 'W/"2"' == response.headers["ETag"]
    again = client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a).json()
    assert again["emails"] == emails
    assert stored(world, created["id"]).email == "bjensen@example.org"


def test_patch_add_with_and_without_path(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    with_path = client.patch(
        url, json=sample("rfc7644-3.5.2.1-patch-add-email.json"), headers=auth_a
    )
    assert with_path.json()["emails"] == [{"value": "babs@jensen.org", "type": "home"}]
    without_path = client.patch(
        url, json=sample("rfc7644-3.5.2.1-patch-add-without-path.json"), headers=auth_a
    )
    assert without_path.status_code == 200, without_path.text
    assert without_path.json()["nickName"] == "Babs"


def test_patch_removes_values_selected_by_a_filter(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=sample("rfc7644-3.5.2.2-patch-remove-email-by-filter.json"),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    assert [email["type"] for email in response.json()["emails"]] == ["work"]


def test_patch_sets_an_enterprise_attribute_by_urn(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=sample("rfc7644-3.5.2.3-patch-replace-enterprise-attribute.json"),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    assert response.json()[ENTERPRISE] == {"department": "Night Tours"}
    assert stored(world, created["id"]).department == "Night Tours"


def test_patch_remove_clears_a_simple_attribute(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=patch_body(
            {"op": "remove", "path": "name.middleName"}, {"op": "remove", "path": "title"}
        ),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    assert "middleName" not in response.json()["name"]
    assert "title" not in response.json()


def test_patch_with_a_bad_path_is_400(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": "shoeSize", "value": 1}),
        headers=auth_a,
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidPath"


def test_patch_cannot_change_the_privilege_by_default(client, world, auth_a):
    user_id = user_id_of(world, "site-a", world.user_a)
    for operation in (
        {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "promaster"},
        {"op": "replace", "value": {f"{SITESCIM}:privilege": "promaster"}},
    ):
        response = client.patch(
            f"/scim/v2/Users/{user_id}", json=patch_body(operation), headers=auth_a
        )
        assert response.status_code == 400, response.text
        assert response.json()["scimType"] == "mutability"
    assert stored(world, user_id).privilege == "user"


def test_site_that_allows_it_may_grant_promaster_over_scim(client, world, auth_a):
    allow_scim_promaster(world)
    user_id = user_id_of(world, "site-a", world.user_a)
    operation = {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "promaster"}
    response = client.patch(f"/scim/v2/Users/{user_id}", json=patch_body(operation), headers=auth_a)
    assert response.status_code == 200, response.text
    assert response.json()[SITESCIM] == {"privilege": "promaster"}
    assert stored(world, user_id).privilege == "promaster"
    bad = {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "emperor"}
    response = client.patch(f"/scim/v2/Users/{user_id}", json=patch_body(bad), headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


# Deactivate, delete, the last Promaster


def test_active_false_deactivates_and_keeps_the_user(client, world, auth_a):
    created = create(client, auth_a, full_user())
    url = f"/scim/v2/Users/{created['id']}"
    operation = {"op": "replace", "path": "active", "value": False}
    response = client.patch(url, json=patch_body(operation), headers=auth_a)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    kept = client.get(url, headers=auth_a).json()
    assert kept["active"] is False
    assert kept["emails"] == created["emails"]
    assert stored(world, created["id"]).active is False


def test_delete_answers_204_then_404(client, world, auth_a):
    created = create(client, auth_a, full_user())
    url = f"/scim/v2/Users/{created['id']}"
    response = client.delete(url, headers=auth_a)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(url, headers=auth_a).status_code == 404
    assert client.delete(url, headers=auth_a).status_code == 404


def test_last_active_promaster_cannot_be_deactivated_or_deleted(client, world, auth_b):
    bob = user_id_of(world, "site-b", world.promaster_b)
    url = f"/scim/v2/Users/{bob}"
    operation = {"op": "replace", "path": "active", "value": False}
    response = client.patch(url, json=patch_body(operation), headers=auth_b)
    assert response.status_code == 409
    assert "last active Promaster" in response.json()["detail"]
    put = {"schemas": [USER_SCHEMA], "userName": world.promaster_b, "active": False}
    assert client.put(url, json=put, headers=auth_b).status_code == 409
    response = client.delete(url, headers=auth_b)
    assert response.status_code == 409
    assert "last active Promaster" in response.json()["detail"]
    assert stored(world, bob).active is True


def test_a_promaster_may_go_while_another_remains(client, world, auth_a):
    ada = user_id_of(world, "site-a", world.promaster_a)
    alan = user_id_of(world, "site-a", world.promaster_a2)
    operation = {"op": "replace", "path": "active", "value": False}
    first = client.patch(f"/scim/v2/Users/{alan}", json=patch_body(operation), headers=auth_a)
    assert first.status_code == 200, first.text
    second = client.delete(f"/scim/v2/Users/{ada}", headers=auth_a)
    assert second.status_code == 409
    assert stored(world, ada).active is True


def test_last_promaster_cannot_be_demoted_even_where_scim_may_set_privileges(client, world, auth_b):
    allow_scim_promaster(world, "site-b")
    bob = user_id_of(world, "site-b", world.promaster_b)
    operation = {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "user"}
    response = client.patch(f"/scim/v2/Users/{bob}", json=patch_body(operation), headers=auth_b)
    assert response.status_code == 409
    assert stored(world, bob).privilege == "promaster"


# Tenant isolation


def test_users_of_another_site_are_absent(client, world, auth_a, auth_b):
    theirs = create(client, auth_b, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{theirs['id']}"
    operation = {"op": "replace", "path": "displayName", "value": "hijacked"}
    assert client.get(url, headers=auth_a).status_code == 404
    assert (
        client.put(url, json=sample("rfc7644-3.3-user-post.json"), headers=auth_a).status_code
        == 404
    )
    assert client.patch(url, json=patch_body(operation), headers=auth_a).status_code == 404
    assert client.delete(url, headers=auth_a).status_code == 404
    listed = client.get("/scim/v2/Users", headers=auth_a).json()
    assert theirs["id"] not in [user["id"] for user in listed["Resources"]]
    assert client.get(url, headers=auth_b).json()["userName"] == "bjensen"


def test_requests_without_a_token_are_401(client, world):
    assert client.get("/scim/v2/Users").status_code == 401
    assert client.post("/scim/v2/Users", json=full_user()).status_code == 401


# Audit


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


def test_a_deactivation_waits_for_a_concurrent_one_and_then_is_refused(world, token_a):
    """The second check runs after the first change commits, never beside it.

    The first deactivation holds its transaction open while the second starts:
    the site row lock (PostgreSQL) or the write lock (SQLite) makes the second
    wait, then count the first one's result.
    """
    import threading
    import time

    from scim2_models import ConflictException

    from sitescim.services import users as user_service

    runtime = world.runtime
    ada = user_id_of(world, "site-a", world.promaster_a)
    alan = user_id_of(world, "site-a", world.promaster_a2)
    first_done = threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        with runtime.db.transaction(write=True) as session:
            user_service.deactivate_user(session, runtime, token_a, ada, base_url="http://x")
            first_done.set()
            time.sleep(0.5)  # the second request starts while this one is uncommitted
        outcomes["first"] = "deactivated"

    def second() -> None:
        first_done.wait(30)
        try:
            with runtime.db.transaction(write=True) as session:
                user_service.deactivate_user(session, runtime, token_a, alan, base_url="http://x")
            outcomes["second"] = "deactivated"
        except ConflictException:
            outcomes["second"] = "refused"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"first": "deactivated", "second": "refused"}
    assert stored(world, alan).active is True


def test_a_filter_is_never_ignored(client, world, auth_a):
    response = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "nobody@example.com"'}, headers=auth_a
    )
    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == 0
    assert response.json()["Resources"] == []
