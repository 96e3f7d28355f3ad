"""The SCIM hot path: reads through the driver, equality lookups, one route table.

The hot reader (db/reads.py) builds the same document as the SQLAlchemy rows
do; an equality lookup answers what the general filter engine answers; every
known path refuses other methods with 405 and ``Allow``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from sitescim.db.listings import GroupRef
from sitescim.db.reads import open_reads
from sitescim.db.repositories import users as users_repo
from sitescim.scim import lookups
from sitescim.scim.listing import ListQuery
from sitescim.scim.user_documents import user_document

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE = "http://testserver/scim/v2"


def rich_user(name: str) -> dict[str, object]:
    return {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": name,
        "externalId": f"ext-{name}",
        "name": {"givenName": "Élodie", "familyName": "O'Brien"},
        "active": False,
        "emails": [
            {"value": f"{name}", "type": "work", "primary": True},
            {"value": f"home.{name}", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+33 1 23 45 67 89", "type": "mobile", "primary": False}],
        "addresses": [{"streetAddress": "1 rue de la Paix", "locality": "Paris", "type": "work"}],
        "roles": [{"value": "auditor", "display": "Auditor"}],
        "title": "Ingénieure",
        ENTERPRISE_URN: {"department": "Research", "employeeNumber": "0042"},
    }


def document_through_sqlalchemy(database, site_id: str, user_id: str) -> dict[str, object]:
    with database.reading() as connection:
        user = users_repo.read_user(connection, site_id, user_id)
        values = users_repo.list_user_values(connection, [user_id])
        groups = [
            GroupRef(id=group_id, display=display)
            for _, group_id, display in users_repo.list_user_groups(connection, site_id, [user_id])
        ]
    return user_document(user, values, groups, BASE)


def test_hot_reader_builds_the_document_sqlalchemy_rows_build(client, world, database, auth_a):
    response = client.post("/scim/v2/Users", json=rich_user("rich@example.com"), headers=auth_a)
    assert response.status_code == 201, response.text
    created = response.json()
    member = {"value": created["id"]}
    for name in ("Zeta", "alpha"):
        group = {"schemas": [GROUP_URN], "displayName": name, "members": [member]}
        assert client.post("/scim/v2/Groups", json=group, headers=auth_a).status_code == 201

    async def read() -> object:
        reads = await open_reads(database.engine)
        try:
            return await reads.user(world.site_a, created["id"])
        finally:
            await reads.close()

    snapshot = asyncio.run(read())
    assert snapshot is not None
    hot = user_document(snapshot.user, snapshot.values, snapshot.groups, BASE)
    assert hot == document_through_sqlalchemy(database, world.site_a, created["id"])
    assert [group["display"] for group in hot["groups"]] == ["alpha", "Zeta"]
    served = client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a)
    assert served.json() == hot
    assert served.headers["etag"] == hot["meta"]["version"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "Ada@A.test"', ("user_name_key", "ada@a.test")),
        ('USERNAME EQ "x"', ("user_name_key", "x")),
        (f'{USER_URN}:userName eq "x"', ("user_name_key", "x")),
        ('externalId eq "Ext-1"', ("external_id", "Ext-1")),
        ('id eq "abc"', ("id", "abc")),
        ('userName eq "a" and active eq true', None),
        ('userName co "a"', None),
        ('emails.value eq "a"', None),
        ('userName eq "with \\"quote\\""', None),
        ("userName eq 12", None),
    ],
)
def test_equality_lookup_is_recognised_only_in_its_exact_shape(text, expected):
    lookup = lookups.user_lookup(ListQuery(filter=text))
    assert (None if lookup is None else (lookup.column, lookup.value)) == expected


@pytest.mark.parametrize(
    "query",
    [
        ListQuery(filter='userName eq "x"', start_index=2),
        ListQuery(filter='userName eq "x"', sort_by="userName"),
        ListQuery(filter='userName eq "x"', cursor=""),
        ListQuery(filter='userName eq "x"', count=0),
    ],
)
def test_equality_lookup_leaves_other_pages_to_the_general_engine(query):
    assert lookups.user_lookup(query) is None


@pytest.mark.parametrize(
    "filter_text",
    [
        'userName eq "RICH@EXAMPLE.COM"',
        'externalId eq "ext-rich@example.com"',
        'externalId eq "EXT-RICH@EXAMPLE.COM"',
        'userName eq "nobody@a.test"',
        'externalId eq "shared"',
    ],
)
def test_equality_lookup_answers_what_the_general_engine_answers(
    client, world, auth_a, filter_text
):
    client.post("/scim/v2/Users", json=rich_user("rich@example.com"), headers=auth_a)
    for n in range(3):
        body = {"schemas": [USER_URN], "userName": f"twin{n}@a.test", "externalId": "shared"}
        assert client.post("/scim/v2/Users", json=body, headers=auth_a).status_code == 201

    fast = client.get("/scim/v2/Users", params={"filter": filter_text}, headers=auth_a)
    # sortBy takes the general engine; creation order and sorting by id agree for one match.
    general = client.post(
        "/scim/v2/Users/.search",
        json={"filter": f"({filter_text})", "count": 100},
        headers=auth_a,
    )

    assert fast.status_code == general.status_code == 200
    assert fast.json() == general.json()


def test_equality_lookup_with_more_matches_than_a_page_counts_them_all(client, world, auth_a):
    for n in range(3):
        body = {"schemas": [USER_URN], "userName": f"many{n}@a.test", "externalId": "many"}
        assert client.post("/scim/v2/Users", json=body, headers=auth_a).status_code == 201

    page = client.get(
        "/scim/v2/Users", params={"filter": 'externalId eq "many"', "count": 2}, headers=auth_a
    ).json()

    assert (page["totalResults"], page["itemsPerPage"]) == (3, 2)


def test_equality_lookup_never_crosses_sites(client, auth_a, auth_b):
    body = {"schemas": [USER_URN], "userName": "only-a@a.test"}
    assert client.post("/scim/v2/Users", json=body, headers=auth_a).status_code == 201

    page = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "only-a@a.test"'}, headers=auth_b
    ).json()

    assert (page["totalResults"], page["Resources"]) == (0, [])


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/scim/v2/Users", "GET, POST"),
        ("DELETE", "/scim/v2/Users", "GET, POST"),
        ("PATCH", "/scim/v2/Groups", "GET, POST"),
        ("POST", "/scim/v2/Users/some-id", "GET, PUT, PATCH, DELETE"),
        ("GET", "/scim/v2/Bulk", "POST"),
        ("DELETE", "/scim/v2/Schemas", "GET"),
        ("GET", "/scim/v2/Users/.search", "POST"),
    ],
)
def test_known_path_with_another_method_is_405_with_allow(client, auth_a, method, path, allow):
    response = client.request(method, path, headers=auth_a)

    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.json()["status"] == "405"


def test_405_is_answered_only_after_authentication(client):
    response = client.request("PUT", "/scim/v2/Users")
    assert response.status_code == 401
    assert "allow" not in response.headers


def test_concurrent_patches_of_one_user_each_take_their_own_version(client, world, auth_a):
    """Every PATCH starts from the version the one before it wrote: none is lost."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sitescim.db.models import AuditEvent, User
    from sitescim.scim import compat
    from sitescim.services import users as user_service
    from sitescim.services.tokens import check_token_sync

    body = {"schemas": [USER_URN], "userName": "racer@example.com", "displayName": "start"}
    created = client.post("/scim/v2/Users", json=body, headers=auth_a).json()
    runtime = world.runtime
    token = check_token_sync(runtime, auth_a["Authorization"].removeprefix("Bearer ")).found
    assert token is not None
    racers = 12
    barrier = threading.Barrier(racers, timeout=30)

    def patch(index: int) -> str:
        operation = {"op": "replace", "path": "displayName", "value": f"racer {index}"}
        patch_body = {"schemas": [PATCH_URN], "Operations": [operation]}
        barrier.wait()
        with compat.request_policy(strict=False), runtime.db.transaction(write=True) as session:
            document = user_service.patch_user(
                session, runtime, token, created["id"], patch_body, base_url=BASE
            )
        return str(document["meta"]["version"])

    with ThreadPoolExecutor(max_workers=racers) as pool:
        versions = sorted(pool.map(patch, range(racers)))

    assert versions == sorted(f'W/"{n}"' for n in range(2, racers + 2))
    with runtime.db.transaction(write=False) as session:
        stored = session.get(User, created["id"])
        assert stored is not None
        assert stored.version == racers + 1
        patched = session.query(AuditEvent).filter_by(action="scim.user.patch").count()
    assert patched == racers


@pytest.mark.parametrize(
    "filter_text",
    [
        'displayName eq "Research"',
        'DISPLAYNAME eq "research"',
        'externalId eq "g-1"',
        'externalId eq "G-1"',
        'displayName eq "nobody"',
        'externalId eq "shared"',
    ],
)
def test_group_lookup_answers_what_the_general_engine_answers(client, world, auth_a, filter_text):
    groups = [("Research", "g-1"), ("Ops", "shared"), ("Sales", "shared")]
    for name, external in groups:
        body = {"schemas": [GROUP_URN], "displayName": name, "externalId": external}
        assert client.post("/scim/v2/Groups", json=body, headers=auth_a).status_code == 201
    params = {"filter": filter_text, "excludedAttributes": "members"}

    fast = client.get("/scim/v2/Groups", params=params, headers=auth_a)
    general = client.post(
        "/scim/v2/Groups/.search",
        json={"filter": f"({filter_text})", "excludedAttributes": ["members"]},
        headers=auth_a,
    )

    assert fast.status_code == general.status_code == 200
    assert fast.json() == general.json()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('displayName eq "Ops"', ("display_name_key", "ops")),
        (
            'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Ops"',
            ("display_name_key", "ops"),
        ),
        ('externalId eq "X"', ("external_id", "X")),
        ('displayName sw "O"', None),
        ('displayName eq "tab\there"', None),
    ],
)
def test_group_lookup_is_recognised_only_in_its_exact_shape(text, expected):
    lookup = lookups.group_lookup(ListQuery(filter=text))
    assert (None if lookup is None else (lookup.column, lookup.value)) == expected


def test_group_read_without_members_is_the_group_less_its_members(client, auth_a, auth_b):
    member = client.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": "m@example.com"}, headers=auth_a
    ).json()["id"]
    body = {"schemas": [GROUP_URN], "displayName": "Readers", "members": [{"value": member}]}
    group = client.post("/scim/v2/Groups", json=body, headers=auth_a).json()
    url = f"/scim/v2/Groups/{group['id']}"

    whole = client.get(url, headers=auth_a)
    bare = client.get(url, params={"excludedAttributes": "members"}, headers=auth_a)

    assert bare.status_code == 200
    assert bare.json() == {key: value for key, value in whole.json().items() if key != "members"}
    assert bare.headers["etag"] == whole.headers["etag"] == group["meta"]["version"]
    unchanged = client.get(
        url,
        params={"excludedAttributes": "members"},
        headers={**auth_a, "If-None-Match": group["meta"]["version"]},
    )
    assert unchanged.status_code == 304
    missing = client.get(
        "/scim/v2/Groups/no-such-group", params={"excludedAttributes": "members"}, headers=auth_a
    )
    assert missing.status_code == 404
    other_site = client.get(url, params={"excludedAttributes": "members"}, headers=auth_b)
    assert other_site.status_code == 404


def test_get_by_id_is_one_statement_with_the_token_and_uses_indexes(
    settings, database, clock, world, auth_a
):
    """The token, its site and the user come from one statement (one round trip on
    PostgreSQL), and the user is found by its key among thousands (with one token,
    the planner may well scan ``access_tokens``, as it does for the token's own
    statement)."""
    from starlette.testclient import TestClient

    from sitescim.web.app import create_app
    from tests.integration.statements import explain, recorded_statements, statements_with

    with database.transaction(write=True) as session:
        _insert_fillers(session, world.site_a, 3000)
        session.execute(text("ANALYZE"))
    app = create_app(settings, clock=clock, database=database)
    with TestClient(app) as client:
        created = client.post("/scim/v2/Users", json=rich_user("one@a.test"), headers=auth_a)
        assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    with recorded_statements() as sent, TestClient(app) as client:
        served = client.get(f"/scim/v2/Users/{user_id}", headers=auth_a)

    assert served.status_code == 200, served.text
    assert served.json() == created.json()
    reads = statements_with(sent, user_id)
    assert len(reads) == 1, [s.sql[:80] for s in reads]
    assert [s for s in sent if "token_hash =" in s.sql] == reads
    plan = explain(database.engine, reads[0])
    assert "SEARCH u USING INDEX sqlite_autoindex_users_1 (id=?)" in plan or (
        "Index Scan using pk_users on users" in plan
    ), plan
    assert "Seq Scan on users" not in plan, plan


def _spoiled(world: Any, token_state: str, auth_a: dict, auth_b: dict) -> dict:
    """Headers whose token is site A's, revoked or expired, or another site's."""
    from datetime import timedelta

    from sitescim.db.models import AccessToken

    if token_state == "another site":
        return auth_b
    with world.runtime.db.transaction(write=True) as session:
        token = session.query(AccessToken).filter_by(site_id=world.site_a).one()
        if token_state == "revoked":
            token.revoked_at = world.runtime.clock()
        else:
            token.expires_at = world.runtime.clock() - timedelta(seconds=1)
    return auth_a


@pytest.mark.parametrize("token_state", ["revoked", "expired", "another site"])
def test_get_by_id_with_a_bad_token_answers_as_before_and_shows_nothing(
    client, world, auth_a, auth_b, token_state
):
    """The user read in the token's statement is used only once the token is good."""
    created = client.post("/scim/v2/Users", json=rich_user("hidden@a.test"), headers=auth_a)
    user_id = created.json()["id"]
    headers = _spoiled(world, token_state, auth_a, auth_b)

    served = client.get(f"/scim/v2/Users/{user_id}", headers=headers)

    expected = 404 if token_state == "another site" else 401
    assert served.status_code == expected, served.text
    assert "hidden@a.test" not in served.text


@pytest.mark.parametrize(
    ("scim_filter", "operand", "index"),
    [
        ('userName eq "One@A.test"', "one@a.test", ("sqlite_autoindex_users_2", "uq_users_site")),
        ('externalId eq "ext-one@a.test"', "ext-one@a.test", ("ix_users_site_id_external_id",)),
    ],
)
def test_user_lookup_is_one_statement_with_the_token_and_uses_indexes(
    settings, database, clock, world, auth_a, scim_filter, operand, index
):
    """The lookup Entra ID and Okta send before each create (Okta with ``startIndex``
    and ``count``) comes from the token's own statement, found by its own index among
    thousands of users, and answers what the general engine answers."""
    from starlette.testclient import TestClient

    from sitescim.web.app import create_app
    from tests.integration.statements import explain, recorded_statements, statements_with

    with database.transaction(write=True) as session:
        _insert_fillers(session, world.site_a, 3000, external_ids=True)
        session.execute(text("ANALYZE"))
    app = create_app(settings, clock=clock, database=database)
    with TestClient(app) as client:
        created = client.post("/scim/v2/Users", json=rich_user("one@a.test"), headers=auth_a)
        assert created.status_code == 201, created.text
        general = client.post(
            "/scim/v2/Users/.search", json={"filter": f"({scim_filter})"}, headers=auth_a
        )
    for params in ({"filter": scim_filter}, {"filter": scim_filter, "startIndex": 1, "count": 5}):
        with recorded_statements() as sent, TestClient(app) as client:
            served = client.get("/scim/v2/Users", params=params, headers=auth_a)

        assert served.status_code == 200, served.text
        assert served.json()["Resources"] == general.json()["Resources"] == [created.json()]
        reads = statements_with(sent, operand)
        assert len(reads) == 1, [s.sql[:80] for s in reads]
        assert [s for s in sent if "token_hash =" in s.sql] == reads
        plan = explain(database.engine, reads[0])
        assert any(name in plan for name in index), plan
        assert "Seq Scan on users" not in plan, plan


@pytest.mark.parametrize("token_state", ["revoked", "expired", "another site"])
def test_user_lookup_with_a_bad_token_answers_as_before_and_shows_nothing(
    client, world, auth_a, auth_b, token_state
):
    """The users read in the token's statement are used only once the token is good."""
    created = client.post("/scim/v2/Users", json=rich_user("hidden@a.test"), headers=auth_a)
    assert created.status_code == 201, created.text
    headers = _spoiled(world, token_state, auth_a, auth_b)

    served = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "hidden@a.test"'}, headers=headers
    )

    if token_state == "another site":
        assert served.status_code == 200, served.text
        assert (served.json()["totalResults"], served.json()["Resources"]) == (0, [])
    else:
        assert served.status_code == 401, served.text
    assert "hidden" not in served.text


@pytest.mark.parametrize(
    ("query", "scim_type"),
    [
        ({"filter": 'userName eq "x@a.test"', "count": "many"}, "invalidValue"),
        ({"filter": 'userName eq "x@a.test"', "sortBy": "nosuch"}, "invalidPath"),
        ({"filter": 'userName eq "x@a.test"', "startIndex": "0.5"}, "invalidValue"),
    ],
)
def test_a_lookup_with_a_bad_parameter_is_refused_only_after_the_token(
    client, auth_a, query, scim_type
):
    """A lookup's query is read before the token is checked, but what is wrong with it
    is said only to a caller whose token is good: 401 first, then the same 400 as ever."""
    anonymous = client.get("/scim/v2/Users", params=query)
    refused = client.get("/scim/v2/Users", params=query, headers=auth_a)

    assert anonymous.status_code == 401, anonymous.text
    assert refused.status_code == 400, refused.text
    assert refused.json()["scimType"] == scim_type


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_lookups_take_their_own_index_without_statistics(
    settings, database, clock, world, auth_a, monkeypatch
):
    """``externalId eq`` and ``displayName eq`` (what identity providers send before
    each create) find their rows by their own index when SQLite has no statistics:
    ordered by creation, the lookup once took the (site_id, created_at, id) index
    and walked every user of the site. (PostgreSQL's plans follow its statistics,
    which the service keeps fresh: db.statistics.)"""
    from starlette.testclient import TestClient

    from sitescim.db.engine import Database
    from sitescim.db.models import Group
    from sitescim.web.app import create_app
    from tests.integration.scim.rows import T0
    from tests.integration.statements import explain, recorded_statements, statements_with

    with database.transaction(write=True) as session:
        _insert_fillers(session, world.site_a, 2000, external_ids=True)
        session.execute(
            Group.__table__.insert(),
            [
                {
                    "id": f"group-{n}",
                    "site_id": world.site_a,
                    "display_name": f"Group {n}",
                    "display_name_key": f"group {n}",
                    "external_id": f"gext-{n}",
                    "version": 1,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for n in range(2000)
            ],
        )
        found = session.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).first()
        if found is not None:
            session.execute(text("DELETE FROM sqlite_stat1"))
    # Between a load and the next refresh (db.statistics): the start's refresh held off.
    monkeypatch.setattr(Database, "refresh_statistics", lambda _self: [])
    app = create_app(settings, clock=clock, database=database)
    lookups_sent = [
        ("/scim/v2/Users", 'externalId eq "ext-1500"', "ext-1500", "ix_users_site_id_external_id"),
        ("/scim/v2/Groups", 'displayName eq "Group 1500"', "group 1500", "display_name_key"),
        (
            "/scim/v2/Groups",
            'externalId eq "gext-1500"',
            "gext-1500",
            "ix_groups_site_id_external_id",
        ),
    ]
    for path, scim_filter, operand, index in lookups_sent:
        with recorded_statements() as sent, TestClient(app) as client:
            # As Entra ID asks for a group: without its members.
            params = {"filter": scim_filter, "excludedAttributes": "members"}
            served = client.get(path, params=params, headers=auth_a)
        assert served.status_code == 200, served.text
        assert served.json()["totalResults"] == 1
        reads = statements_with(sent, operand)
        assert len(reads) == 1, [s.sql[:80] for s in reads]
        plan = explain(database.engine, reads[0])
        assert index in plan, plan
        assert "created_at" not in plan, plan


def _insert_fillers(session: Any, site_id: str, count: int, *, external_ids: bool = False) -> None:
    """``count`` bare users created at one instant, so plans meet a site of that size."""
    from sitescim.db.models import User
    from tests.integration.scim.rows import T0

    session.execute(
        User.__table__.insert(),
        [
            {
                "id": f"filler-{n}",
                "site_id": site_id,
                "user_name": f"filler-{n}",
                "user_name_key": f"filler-{n}",
                **({"external_id": f"ext-{n}"} if external_ids else {}),
                "active": True,
                "privilege": "user",
                "version": 1,
                "created_at": T0,
                "updated_at": T0,
            }
            for n in range(count)
        ],
    )
