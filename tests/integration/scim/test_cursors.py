"""Cursor pagination (RFC 9865) over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from sitescim.db.models import Site
from sitescim.db.models import User as UserRow
from sitescim.web.app import create_app

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def site_id(world, slug: str) -> str:
    with world.runtime.db.transaction(write=False) as session:
        return session.scalar(select(Site.id).where(Site.slug == slug))


def user_row(site: str, name: str, moment: datetime) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "site_id": site,
        "user_name": name,
        "user_name_key": name,
        "active": True,
        "privilege": "user",
        "created_at": moment,
        "updated_at": moment,
        "version": 1,
    }


def seed(world, slug: str, count: int, *, spread_ms: int = 1) -> set[str]:
    """``count`` users straight into the table, created ``spread_ms`` apart from T0."""
    site = site_id(world, slug)
    rows = [
        user_row(site, f"walker{index:05d}@a.test", T0 + timedelta(milliseconds=index * spread_ms))
        for index in range(count)
    ]
    with world.runtime.db.transaction(write=True) as session:
        session.execute(insert(UserRow), rows)
    return {row["id"] for row in rows}


def walk(client, headers, path: str = "/scim/v2/Users", **params) -> list[dict]:
    """Every page from the empty cursor to the one without nextCursor."""
    pages = []
    cursor = ""
    while True:
        response = client.get(path, params={**params, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "startIndex" not in body
        assert body["itemsPerPage"] == len(body["Resources"])
        pages.append(body)
        if "nextCursor" not in body:
            return pages
        cursor = body["nextCursor"]
        assert cursor
        assert all(ch.isalnum() or ch in "-._~" for ch in cursor)  # RFC 3986 unreserved


def test_a_walk_sees_every_user_once_in_creation_order(client, world, auth_a):
    seeded = seed(world, "site-a", 23)
    pages = walk(client, auth_a, count="5", filter='userName sw "walker"')
    assert [len(page["Resources"]) for page in pages] == [5, 5, 5, 5, 3]
    assert {page["totalResults"] for page in pages} == {23}
    names = [user["userName"] for page in pages for user in page["Resources"]]
    assert names == sorted(names)  # seeded in name order, one millisecond apart
    assert {user["id"] for page in pages for user in page["Resources"]} == seeded


def test_a_walk_follows_sort_by_and_order(client, world, auth_a):
    seed(world, "site-a", 12)
    pages = walk(
        client,
        auth_a,
        count="5",
        sortBy="userName",
        sortOrder="descending",
        filter='userName sw "walker"',
    )
    names = [user["userName"] for page in pages for user in page["Resources"]]
    assert names == sorted(names, reverse=True)
    assert len(names) == 12


def test_a_walk_sorted_on_an_attribute_some_users_lack_keeps_every_user(client, world, auth_a):
    """Users without a displayName sort last ascending; the keyset must cross NULLs."""
    for index in range(7):
        body = {"userName": f"named{index}@a.test"}
        if index % 2:
            body["displayName"] = f"Person {index}"
        assert client.post("/scim/v2/Users", json=body, headers=auth_a).status_code == 201
    for order in ("ascending", "descending"):
        pages = walk(
            client,
            auth_a,
            count="2",
            sortBy="displayName",
            sortOrder=order,
            filter='userName sw "named"',
        )
        names = [user["userName"] for page in pages for user in page["Resources"]]
        assert sorted(names) == [f"named{index}@a.test" for index in range(7)]
        shown = [user.get("displayName") for page in pages for user in page["Resources"]]
        missing = [name for name in shown if name is None]
        assert len(missing) == 4
        if order == "ascending":
            assert shown[-4:] == missing
        else:
            assert shown[:4] == missing


def test_groups_walk_with_cursors_too(client, world, auth_a):
    for index in range(5):
        body = {"displayName": f"Team {index}"}
        assert client.post("/scim/v2/Groups", json=body, headers=auth_a).status_code == 201
    pages = walk(client, auth_a, "/scim/v2/Groups", count="2", excludedAttributes="members")
    names = [group["displayName"] for page in pages for group in page["Resources"]]
    assert sorted(names) == [f"Team {index}" for index in range(5)]


def test_search_request_body_takes_a_cursor(client, world, auth_a):
    seed(world, "site-a", 4)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "walker"',
        "count": 3,
        "cursor": "",
    }
    first = client.post("/scim/v2/Users/.search", json=body, headers=auth_a).json()
    assert len(first["Resources"]) == 3
    second = client.post(
        "/scim/v2/Users/.search", json={**body, "cursor": first["nextCursor"]}, headers=auth_a
    ).json()
    assert len(second["Resources"]) == 1
    assert "nextCursor" not in second


@pytest.mark.parametrize(
    ("params", "scim_type"),
    [
        ({"cursor": "not-a-cursor"}, "invalidCursor"),
        ({"cursor": "eyJ4Ijo"}, "invalidCursor"),
        ({"cursor": "x" * 3000}, "invalidCursor"),
        ({"cursor": "", "startIndex": "2"}, "invalidValue"),
    ],
)
def test_bad_cursors_are_refused(client, world, auth_a, params, scim_type):
    response = client.get("/scim/v2/Users", params=params, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == scim_type


def test_a_cursor_is_bound_to_its_query(client, world, auth_a):
    seed(world, "site-a", 6)
    first = client.get(
        "/scim/v2/Users",
        params={"cursor": "", "count": "2", "filter": 'userName sw "walker"'},
        headers=auth_a,
    ).json()
    other = client.get(
        "/scim/v2/Users",
        params={"cursor": first["nextCursor"], "count": "2", "sortBy": "userName"},
        headers=auth_a,
    )
    assert other.status_code == 400
    assert other.json()["scimType"] == "invalidCursor"


def test_a_cursor_of_one_site_reads_nothing_of_another(client, world, auth_a, auth_b):
    seed(world, "site-b", 5)
    first = client.get("/scim/v2/Users", params={"cursor": "", "count": "2"}, headers=auth_b).json()
    ids_b = {user["id"] for user in first["Resources"]}
    page = client.get(
        "/scim/v2/Users", params={"cursor": first["nextCursor"], "count": "50"}, headers=auth_a
    ).json()
    assert not ids_b & {user["id"] for user in page["Resources"]}
    assert all(user["userName"].endswith("@a.test") for user in page["Resources"])


@pytest.mark.slow
def test_ten_thousand_users_each_seen_once_while_another_client_inserts(client, world, auth_a):
    """Rows inserted during the walk land before and after its position; none of
    the users present at the start is skipped or repeated."""
    present = seed(world, "site-a", 10_000)
    site = site_id(world, "site-a")
    done = threading.Event()
    inserted: list[str] = []

    def insert_meanwhile() -> None:
        chooser = random.Random(7)  # noqa: S311 - positions, not secrets
        while not done.is_set():
            moment = T0 + timedelta(milliseconds=chooser.randrange(10_000))
            row = user_row(site, f"walker-late-{len(inserted)}@a.test", moment)
            with world.runtime.db.transaction(write=True) as session:
                session.execute(insert(UserRow), [row])
            inserted.append(row["id"])

    writer = threading.Thread(target=insert_meanwhile)
    writer.start()
    try:
        pages = walk(
            client, auth_a, count="1000", filter='userName sw "walker"', attributes="userName"
        )
    finally:
        done.set()
        writer.join()
    seen = [user["id"] for page in pages for user in page["Resources"]]
    assert len(seen) == len(set(seen))
    assert present <= set(seen)
    assert inserted  # the other client really wrote during the walk


def _unkeyed(*parts: object) -> str:
    """A cursor as anyone could build one when its fingerprint was an unkeyed hash."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unkeyed_print(*parts: object) -> str:
    text = json.dumps([str(part) if part is not None else None for part in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


FORGED_KEYS = [True, 1, 1.5, 2**63, -(2**63) - 1, {"t": "not a date"}, {"t": "2026-01-01"}, "a\x00"]


@pytest.mark.parametrize("sort_by", [None, "userName", "meta.created", "active"])
@pytest.mark.parametrize("key", FORGED_KEYS, ids=repr)
def test_a_forged_cursor_is_an_invalid_cursor_not_a_500(client, world, auth_a, sort_by, key):
    """Built the way the old unkeyed fingerprint allowed, with key values of every
    type a column does not hold."""
    seed(world, "site-a", 3)
    print_ = _unkeyed_print("User", None, sort_by, False)
    params = {"cursor": _unkeyed(print_, key, "00000000-0000-0000-0000-000000000000")}
    if sort_by is not None:
        params["sortBy"] = sort_by
    response = client.get("/scim/v2/Users", params=params, headers=auth_a)
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidCursor"


def test_a_cursor_altered_in_any_way_is_refused(client, world, auth_a):
    seed(world, "site-a", 4)
    first = client.get(
        "/scim/v2/Users",
        params={"cursor": "", "count": "1", "sortBy": "userName"},
        headers=auth_a,
    ).json()
    cursor = first["nextCursor"]
    body, _, tag = cursor.partition(".")
    position = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for key in [*FORGED_KEYS, "zzzz"]:
        moved = base64.urlsafe_b64encode(json.dumps([key, position[1]]).encode()).decode()
        for forged in (f"{moved.rstrip('=')}.{tag}", moved.rstrip("=")):
            response = client.get(
                "/scim/v2/Users",
                params={"cursor": forged, "count": "1", "sortBy": "userName"},
                headers=auth_a,
            )
            assert response.status_code == 400, (key, response.text)
            assert response.json()["scimType"] == "invalidCursor"
    flipped = f"{body}.{'A' if tag[0] != 'A' else 'B'}{tag[1:]}"
    response = client.get(
        "/scim/v2/Users",
        params={"cursor": flipped, "count": "1", "sortBy": "userName"},
        headers=auth_a,
    )
    assert response.json()["scimType"] == "invalidCursor"
    genuine = client.get(
        "/scim/v2/Users",
        params={"cursor": cursor, "count": "1", "sortBy": "userName"},
        headers=auth_a,
    )
    assert genuine.status_code == 200, genuine.text


def test_a_cursor_sealed_with_another_servers_key_is_refused(
    settings, database, clock, world, auth_a
):
    seed(world, "site-a", 3)
    params = {"cursor": "", "count": "1"}
    other = settings.model_copy(update={"session_secret": SecretStr("another-secret-" + "o" * 40)})
    with TestClient(create_app(other, clock=clock, database=database)) as elsewhere:
        cursor = elsewhere.get("/scim/v2/Users", params=params, headers=auth_a).json()["nextCursor"]
    with TestClient(create_app(settings, clock=clock, database=database)) as here:
        response = here.get(
            "/scim/v2/Users", params={"cursor": cursor, "count": "1"}, headers=auth_a
        )
        assert response.status_code == 400
        assert response.json()["scimType"] == "invalidCursor"
        mine = here.get("/scim/v2/Users", params=params, headers=auth_a).json()["nextCursor"]
        assert (
            here.get(
                "/scim/v2/Users", params={"cursor": mine, "count": "1"}, headers=auth_a
            ).status_code
            == 200
        )
