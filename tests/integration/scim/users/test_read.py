"""SCIM /Users: reading and listing users.

Over real HTTP and real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

from tests.integration.scim.users.calls import USER_SCHEMA, create, full_user, sample


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


def test_a_filter_is_never_ignored(client, world, auth_a):
    response = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "nobody@example.com"'}, headers=auth_a
    )
    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == 0
    assert response.json()["Resources"] == []
