"""SCIM /Bulk (RFC 7644 §3.7) over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from starlette.testclient import TestClient

from sitescim.db.models import AuditEvent, Group, Membership, Site, User
from sitescim.web.app import create_app

BULK = "/scim/v2/Bulk"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@contextmanager
def app_with(settings, clock, database, **limits: int) -> Iterator[TestClient]:
    """The app with other bulk or body limits than the defaults."""
    app = create_app(settings.model_copy(update=limits), clock=clock, database=database)
    with TestClient(app) as client:
        yield client


def bulk(*operations: dict[str, Any], fail_on_errors: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [BULK_REQUEST], "Operations": list(operations)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body


def post_user(bulk_id: str, user_name: str | None = None, **extra: Any) -> dict[str, Any]:
    data = {"schemas": [USER_URN], "userName": user_name or f"{bulk_id}@bulk.test", **extra}
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}


def post_nameless_user(bulk_id: str) -> dict[str, Any]:
    """A POST its use case refuses: userName is required (400)."""
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"schemas": [USER_URN]}}


def post_group(bulk_id: str, name: str, members: list[str]) -> dict[str, Any]:
    data = {
        "schemas": [GROUP_URN],
        "displayName": name,
        "members": [{"value": member} for member in members],
    }
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data}


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def run(client, headers, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(BULK, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    answer = response.json()
    assert answer["schemas"] == [BULK_RESPONSE]
    return list(answer["Operations"])


def user_names(database, slug: str = "site-a") -> set[str]:
    with database.transaction(write=False) as session:
        site_id = session.scalar(select(Site.id).where(Site.slug == slug))
        return set(session.scalars(select(User.user_name).where(User.site_id == site_id)))


def row_counts(database) -> tuple[int, int, int]:
    with database.transaction(write=False) as session:
        return (
            int(session.scalar(select(func.count()).select_from(User)) or 0),
            int(session.scalar(select(func.count()).select_from(Group)) or 0),
            int(session.scalar(select(func.count()).select_from(Membership)) or 0),
        )


def id_of(location: str) -> str:
    return location.rsplit("/", 1)[1]


PROVISIONING_WRITE = re.compile(
    r"^\s*(INSERT INTO|UPDATE|DELETE FROM) (users|user_values|groups|group_members)\b", re.I
)


@contextmanager
def counting_commits(database) -> Iterator[list[int]]:
    """COMMITs of transactions that wrote users or groups, on the service's engine.

    The app's background upkeep (statistics, ended sessions) commits too, at
    times of its own; those transactions write no users or groups.
    """
    commits = [0]
    engine = database.engine

    def note_write(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if PROVISIONING_WRITE.match(statement):
            connection.info["sitescim.test.wrote"] = True

    def count(connection: Any) -> None:
        if connection.info.pop("sitescim.test.wrote", False):
            commits[0] += 1

    event.listen(engine, "before_cursor_execute", note_write)
    event.listen(engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", count)
        event.remove(engine, "before_cursor_execute", note_write)


# One request, one transaction


def test_thousand_users_and_a_group_of_them_are_one_commit(
    settings, clock, database, world, auth_a
):
    operations = [post_user(f"u{n}", f"bulk{n}@bulk.test") for n in range(1000)]
    operations.append(post_group("staff", "Staff", [f"bulkId:u{n}" for n in range(1000)]))
    body = bulk(*operations)
    with app_with(settings, clock, database, bulk_max_operations=1001) as client:
        # The token's first use is written once (last used at); not part of the bulk.
        assert client.get("/scim/v2/ServiceProviderConfig", headers=auth_a).status_code == 200
        with counting_commits(database) as commits:
            results = run(client, auth_a, body)
    assert commits[0] == 1
    assert [result["status"] for result in results] == ["201"] * 1001
    assert [result["bulkId"] for result in results] == [f"u{n}" for n in range(1000)] + ["staff"]
    group_id = id_of(results[-1]["location"])
    user_ids = {id_of(result["location"]) for result in results[:-1]}
    with database.transaction(write=False) as session:
        members = set(
            session.scalars(select(Membership.user_id).where(Membership.group_id == group_id))
        )
    assert members == user_ids
    assert len(members) == 1000
    assert {f"bulk{n}@bulk.test" for n in range(1000)} <= user_names(database)


def test_a_run_of_creations_is_written_in_a_few_statements(client, database, world, auth_a):
    statements: list[str] = []

    def note(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split("(")[0].strip())

    body = bulk(*[post_user(f"u{n}", f"batch{n}@bulk.test") for n in range(200)])
    event.listen(database.engine, "before_cursor_execute", note)
    try:
        results = run(client, auth_a, body)
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
    assert [result["status"] for result in results] == ["201"] * 200
    inserts = [statement for statement in statements if statement.startswith("INSERT INTO")]
    assert inserts.count("INSERT INTO users") == 1
    assert inserts.count("INSERT INTO audit_events") == 2  # the creations, and the Bulk's own
    assert len(statements) < 20


def test_a_group_may_name_users_created_later_in_the_request(client, database, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(
            post_group("team", "Team", ["bulkId:ann", "bulkId:ben"]),
            post_user("ann"),
            post_user("ben"),
        ),
    )
    assert [r["bulkId"] for r in results] == ["team", "ann", "ben"]
    assert [r["status"] for r in results] == ["201", "201", "201"]
    group = client.get(f"/scim/v2/Groups/{id_of(results[0]['location'])}", headers=auth_a).json()
    assert sorted(m["value"] for m in group["members"]) == sorted(
        id_of(r["location"]) for r in results[1:]
    )


def test_bulk_id_references_resolve_in_paths_and_in_patch_values(client, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(
            post_user("ann"),
            post_user("boss"),
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "team",
                "data": {"schemas": [GROUP_URN], "displayName": "Team"},
            },
            {
                "method": "PATCH",
                "path": "/Groups/bulkId:team",
                "data": patch_op(
                    {"op": "add", "path": "members", "value": [{"value": "bulkId:ann"}]}
                ),
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:ann",
                "data": patch_op(
                    {
                        "op": "replace",
                        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                        "value": {"value": "bulkId:boss"},
                    }
                ),
            },
        ),
    )
    assert [r["status"] for r in results] == ["201", "201", "201", "200", "200"]
    ann, boss, team = (id_of(r["location"]) for r in results[:3])
    assert id_of(results[3]["location"]) == team
    assert id_of(results[4]["location"]) == ann
    group = client.get(f"/scim/v2/Groups/{team}", headers=auth_a).json()
    assert [m["value"] for m in group["members"]] == [ann]
    user = client.get(f"/scim/v2/Users/{ann}", headers=auth_a).json()
    enterprise = user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert enterprise["manager"]["value"] == boss


# failOnErrors and partial failure


def test_fail_on_errors_stops_at_the_first_error_and_applies_nothing_after(
    client, database, world, auth_a
):
    results = run(
        client,
        auth_a,
        bulk(
            post_user("first"),
            post_user("clash", "first@bulk.test"),
            post_user("third"),
            {"method": "DELETE", "path": f"/Users/{'x' * 8}"},
            fail_on_errors=1,
        ),
    )
    assert [(r["bulkId"], r["status"]) for r in results] == [("first", "201"), ("clash", "409")]
    names = user_names(database)
    assert "first@bulk.test" in names
    assert "third@bulk.test" not in names


def test_fail_on_errors_counts_errors_before_it_stops(client, database, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(
            post_user("one"),
            post_nameless_user("bad"),
            post_user("clash", "one@bulk.test"),
            post_user("four"),
            post_user("five"),
            fail_on_errors=2,
        ),
    )
    assert [r["status"] for r in results] == ["201", "400", "409"]
    names = user_names(database)
    assert "one@bulk.test" in names
    assert not {"four@bulk.test", "five@bulk.test"} & names


def test_without_fail_on_errors_a_failed_operation_rolls_back_only_itself(
    client, database, world, auth_a
):
    results = run(
        client,
        auth_a,
        bulk(
            post_user("one"),
            post_user("weak", "weak@bulk.test", password="short"),
            post_user("three"),
        ),
    )
    assert [r["status"] for r in results] == ["201", "400", "201"]
    names = user_names(database)
    assert {"one@bulk.test", "three@bulk.test"} <= names
    assert "weak@bulk.test" not in names


def deactivate() -> dict[str, Any]:
    return {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }


def manager_of(reference: str) -> dict[str, Any]:
    return {
        "schemas": [USER_URN, ENTERPRISE_URN],
        ENTERPRISE_URN: {"manager": {"value": reference}},
    }


def test_a_run_of_creations_answers_and_audits_as_one_by_one(client, database, world, auth_a):
    """Creations are written as a batch; the ones it cannot take get their single answer."""
    taken = world.user_a  # a userName the site already has
    results = run(
        client,
        auth_a,
        bulk(
            post_user(
                "one", "One@bulk.test", emails=[{"value": "one@example.com", "primary": True}]
            ),
            post_user("twin", "one@BULK.test"),  # the same userName, folded, as an earlier one
            post_nameless_user("nameless"),
            post_user("taken", taken),
            post_user("two"),
            {"method": "PATCH", "path": "/Users/bulkId:two", "data": deactivate()},
            post_user("three", **manager_of("bulkId:two")),
        ),
    )
    statuses = [(r["bulkId"] if "bulkId" in r else r["method"], r["status"]) for r in results]
    assert statuses == [
        ("one", "201"),
        ("twin", "409"),
        ("nameless", "400"),
        ("taken", "409"),
        ("two", "201"),
        ("PATCH", "200"),
        ("three", "201"),
    ]
    assert results[1]["response"]["scimType"] == "uniqueness"
    names = user_names(database)
    assert {"One@bulk.test", "two@bulk.test", "three@bulk.test"} <= names
    with database.transaction(write=False) as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.target_id).where(
                AuditEvent.action == "scim.user.create"
            )
        ).all()
    created = {id_of(r["location"]) for r in results if r["status"] == "201"}
    assert {target for _, outcome, target in events if outcome == "success"} == created
    assert sorted(outcome for _, outcome, _ in events if outcome != "success") == ["refused"] * 3


def test_a_run_of_group_creations_answers_as_one_by_one(client, database, world, auth_a, auth_b):
    users = run(client, auth_a, bulk(post_user("m1"), post_user("m2")))
    m1, m2 = (id_of(result["location"]) for result in users)
    other_site = run(client, auth_b, bulk(post_user("far")))
    far = id_of(other_site[0]["location"])
    first = run(
        client,
        auth_a,
        bulk(
            post_group("g1", "One", [m1, m2]),
            post_group("g2", "Two", [m2]),
            post_group("g3", "", []),
        ),
    )
    assert [r["status"] for r in first] == ["201", "201", "400"]
    # A member of another site in the run: the batch is undone and each runs alone.
    second = run(
        client,
        auth_a,
        bulk(post_group("g4", "Four", [m1]), post_group("g5", "Five", [m1, far])),
    )
    assert [r["status"] for r in second] == ["201", "400"]
    assert "No user or group of this site" in second[1]["response"]["detail"]
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(Group.display_name, func.count(Membership.id))
            .join(Membership, Membership.group_id == Group.id, isouter=True)
            .group_by(Group.display_name)
        ).all()
        creations = session.execute(
            select(AuditEvent.outcome, func.count())
            .where(AuditEvent.action == "scim.group.create")
            .group_by(AuditEvent.outcome)
        ).all()
    assert dict(rows) == {"One": 2, "Two": 1, "Four": 1}
    assert dict(creations) == {"success": 3, "refused": 2}


# The result list (RFC 7644 §3.7.3)


def test_results_follow_the_rfc_format(client, database, world, auth_a):
    created = run(client, auth_a, bulk(post_user("ann")))[0]
    ann = id_of(created["location"])
    etag = client.get(f"/scim/v2/Users/{ann}", headers=auth_a).headers["etag"]
    assert created == {
        "location": f"http://testserver/scim/v2/Users/{ann}",
        "method": "POST",
        "bulkId": "ann",
        "version": etag,
        "status": "201",
    }

    results = run(
        client,
        auth_a,
        bulk(
            {
                "method": "PUT",
                "path": f"/Users/{ann}",
                "version": etag,
                "data": {"schemas": [USER_URN], "userName": "ann@bulk.test", "displayName": "Ann"},
            },
            {
                "method": "PATCH",
                "path": f"/Users/{ann}",
                "version": etag,
                "data": patch_op({"op": "replace", "path": "title", "value": "Boss"}),
            },
            post_user("clash", "ann@bulk.test"),
            {"method": "DELETE", "path": f"/Users/{ann}"},
        ),
    )
    put, stale, clash, deleted = results
    assert put["method"] == "PUT"
    assert put["status"] == "200"
    assert put["location"] == f"http://testserver/scim/v2/Users/{ann}"
    assert put["version"] != etag
    assert "response" not in put
    # A stale version is the single request's 412, with its location kept.
    assert stale["status"] == "412"
    assert stale["location"] == f"http://testserver/scim/v2/Users/{ann}"
    assert stale["response"]["schemas"] == [ERROR]
    assert stale["response"]["status"] == "412"
    # RFC 7644 §3.7: a failed POST has no location; the error body says why.
    assert clash == {
        "method": "POST",
        "bulkId": "clash",
        "status": "409",
        "response": {
            "schemas": [ERROR],
            "status": "409",
            "scimType": "uniqueness",
            "detail": "A user named 'ann@bulk.test' already exists.",
        },
    }
    assert deleted == {
        "location": f"http://testserver/scim/v2/Users/{ann}",
        "method": "DELETE",
        "status": "204",
    }
    assert client.get(f"/scim/v2/Users/{ann}", headers=auth_a).status_code == 404


def test_group_operations_report_their_version(client, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(
            post_user("ann"),
            post_group("team", "Team", ["bulkId:ann"]),
            {
                "method": "PATCH",
                "path": "/Groups/bulkId:team",
                "data": patch_op({"op": "replace", "path": "displayName", "value": "Crew"}),
            },
        ),
    )
    team = id_of(results[1]["location"])
    response = client.get(f"/scim/v2/Groups/{team}", headers=auth_a)
    assert response.json()["displayName"] == "Crew"
    assert results[2]["version"] == response.headers["etag"]
    assert results[1]["version"] != results[2]["version"]


# bulkId references that cannot be resolved


def test_a_reference_to_an_undeclared_bulk_id_is_refused(client, database, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(post_user("ann"), post_group("team", "Team", ["bulkId:ann", "bulkId:nobody"])),
    )
    assert results[0]["status"] == "201"
    assert results[1]["status"] == "400"
    assert results[1]["response"]["scimType"] == "invalidValue"
    assert "nobody" in results[1]["response"]["detail"]
    assert row_counts(database)[1] == 0


def test_circular_references_are_refused_with_409(client, database, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(
            post_group("a", "A", ["bulkId:b"]),
            post_group("b", "B", ["bulkId:a"]),
            post_group("self", "Self", ["bulkId:self"]),
            post_user("ann"),
        ),
    )
    by_id = {r["bulkId"]: r for r in results}
    for name in ("a", "b", "self"):
        assert by_id[name]["status"] == "409"
        assert by_id[name]["response"]["status"] == "409"
        assert "circle" in by_id[name]["response"]["detail"]
        assert "location" not in by_id[name]
    assert by_id["ann"]["status"] == "201"
    assert row_counts(database)[1] == 0


def test_a_reference_to_a_failed_post_is_refused(client, database, world, auth_a):
    results = run(
        client,
        auth_a,
        bulk(post_nameless_user("bad"), post_group("team", "Team", ["bulkId:bad"])),
    )
    assert [r["status"] for r in results] == ["400", "409"]
    assert "Operations[0]" in results[1]["response"]["detail"]
    assert row_counts(database)[1] == 0


# Limits (RFC 7644 §3.7.4)


def test_discovery_declares_the_configured_limits(settings, clock, database, world, auth_a):
    limits = {"bulk_max_operations": 7, "bulk_max_payload_bytes": 65_536}
    with app_with(settings, clock, database, **limits) as client:
        config = client.get("/scim/v2/ServiceProviderConfig", headers=auth_a).json()
    assert config["bulk"] == {"supported": True, "maxOperations": 7, "maxPayloadSize": 65_536}


def test_more_operations_than_max_operations_is_413_too_many(
    settings, clock, database, world, auth_a
):
    before = row_counts(database)
    with app_with(settings, clock, database, bulk_max_operations=3) as client:
        assert run(client, auth_a, bulk(*(post_user(f"u{n}") for n in range(3))))
        response = client.post(
            BULK, json=bulk(*(post_user(f"v{n}") for n in range(4))), headers=auth_a
        )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/scim+json")
    error = response.json()
    assert error["schemas"] == [ERROR]
    assert error["status"] == "413"
    assert error["scimType"] == "tooMany"
    assert "maxOperations is 3" in error["detail"]
    assert row_counts(database)[0] == before[0] + 3


def test_a_body_over_max_payload_size_is_413_too_large(settings, clock, database, world, auth_a):
    padding = "x" * 5000
    body = bulk(post_user("ann", displayName=padding))
    limits = {"bulk_max_payload_bytes": 4096, "max_body_bytes": 65_536}
    before = row_counts(database)
    with app_with(settings, clock, database, **limits) as client:
        response = client.post(BULK, json=body, headers=auth_a)

        def chunks() -> Iterator[bytes]:
            encoded = json.dumps(body).encode()
            for start in range(0, len(encoded), 1000):
                yield encoded[start : start + 1000]

        chunked = client.post(
            BULK, content=chunks(), headers={**auth_a, "content-type": "application/scim+json"}
        )
    for answer in (response, chunked):
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("application/scim+json")
        error = answer.json()
        assert error["schemas"] == [ERROR]
        assert error["status"] == "413"
        assert error["scimType"] == "tooLarge"
        assert "maxPayloadSize (4096 bytes)" in error["detail"]
    assert "transfer-encoding" in chunked.request.headers
    assert row_counts(database) == before


def test_max_payload_size_may_be_larger_than_other_endpoints_bodies(
    settings, clock, database, world, auth_a
):
    padding = "x" * 3000
    limits = {"bulk_max_payload_bytes": 65_536, "max_body_bytes": 2048}
    with app_with(settings, clock, database, **limits) as client:
        body = bulk(*(post_user(f"u{n}", displayName=f"User {n}") for n in range(30)))
        assert len(json.dumps(body)) > 2048
        results = run(client, auth_a, body)
        single = client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": "ben@bulk.test", "displayName": padding},
            headers=auth_a,
        )
    assert [result["status"] for result in results] == ["201"] * 30
    assert single.status_code == 413
    assert "2048" in single.json()["detail"]


# Malformed requests: 400 and nothing written

VALID = post_user("fine")
MALFORMED: dict[str, tuple[Any, str]] = {
    "not an object": ([VALID], "invalidSyntax"),
    "no schemas": ({"Operations": [VALID]}, "invalidSyntax"),
    "another message's schema": (
        {"schemas": [PATCH_URN], "Operations": [VALID]},
        "invalidSyntax",
    ),
    "no Operations": ({"schemas": [BULK_REQUEST]}, "invalidSyntax"),
    "Operations not a list": (
        {"schemas": [BULK_REQUEST], "Operations": {"0": VALID}},
        "invalidSyntax",
    ),
    "operation not an object": (bulk(VALID, "POST /Users"), "invalidSyntax"),
    "no method": (bulk(VALID, {"path": "/Users", "bulkId": "x", "data": {}}), "invalidValue"),
    "unknown method": (bulk(VALID, {**post_user("x"), "method": "GET"}), "invalidValue"),
    "no path": (bulk(VALID, {"method": "DELETE"}), "invalidValue"),
    "unknown endpoint": (bulk(VALID, {**post_user("x"), "path": "/Robots"}), "invalidValue"),
    "path too deep": (bulk(VALID, {"method": "DELETE", "path": "/Users/a/b"}), "invalidValue"),
    "POST to a resource": (bulk(VALID, {**post_user("x"), "path": "/Users/abc"}), "invalidValue"),
    "PUT without an id": (
        bulk(VALID, {"method": "PUT", "path": "/Users", "data": VALID["data"]}),
        "invalidValue",
    ),
    "POST without bulkId": (
        bulk(VALID, {"method": "POST", "path": "/Users", "data": VALID["data"]}),
        "invalidValue",
    ),
    "empty bulkId": (bulk(VALID, {**post_user("x"), "bulkId": " "}), "invalidValue"),
    "bulkId used twice": (bulk(VALID, post_user("fine", "other@bulk.test")), "invalidValue"),
    "POST without data": (
        bulk(VALID, {"method": "POST", "path": "/Users", "bulkId": "x"}),
        "invalidValue",
    ),
    "data not an object": (bulk(VALID, {**post_user("x"), "data": "[]"}), "invalidValue"),
    "version not a string": (
        bulk(VALID, {"method": "DELETE", "path": "/Users/abc", "version": 3}),
        "invalidValue",
    ),
    "failOnErrors zero": (bulk(VALID, fail_on_errors=0), "invalidValue"),
    "failOnErrors a string": ({**bulk(VALID), "failOnErrors": "1"}, "invalidValue"),
    "failOnErrors a boolean": ({**bulk(VALID), "failOnErrors": True}, "invalidValue"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_bulk_request_is_400_and_writes_nothing(client, database, world, auth_a, case):
    body, scim_type = MALFORMED[case]
    before = row_counts(database)
    response = client.post(BULK, json=body, headers=auth_a)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["schemas"] == [ERROR]
    assert error["status"] == "400"
    assert error["scimType"] == scim_type
    assert error["detail"]
    assert row_counts(database) == before
    assert "fine@bulk.test" not in user_names(database)


def test_a_body_that_is_not_json_is_400(client, database, world, auth_a):
    response = client.post(
        BULK,
        content=b'{"schemas": [',
        headers={**auth_a, "content-type": "application/scim+json"},
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_attribute_names_and_methods_are_case_insensitive(client, database, world, auth_a):
    body = {
        "SCHEMAS": [BULK_REQUEST.upper()],
        "operations": [
            {
                "Method": "post",
                "PATH": "/users",
                "BULKID": "ann",
                "Data": {"schemas": [USER_URN], "userName": "ann@bulk.test"},
            }
        ],
    }
    results = run(client, auth_a, body)
    assert results[0]["method"] == "POST"
    assert results[0]["status"] == "201"
    assert results[0]["location"].startswith("http://testserver/scim/v2/Users/")


# Authentication and the site of the token (T10)


def test_bulk_needs_a_token_and_only_answers_post(client, world, auth_a):
    assert client.post(BULK, json=bulk(VALID)).status_code == 401
    response = client.get(BULK, headers=auth_a)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_token_of_site_b_cannot_touch_site_a_through_bulk(
    client, database, world, auth_a, auth_b
):
    created = run(client, auth_a, bulk(post_user("ann"), post_group("team", "Team", [])))
    ann, team = (id_of(r["location"]) for r in created)
    etag = client.get(f"/scim/v2/Users/{ann}", headers=auth_a).headers["etag"]
    results = run(
        client,
        auth_b,
        bulk(
            {
                "method": "PUT",
                "path": f"/Users/{ann}",
                "data": {"schemas": [USER_URN], "userName": "stolen@b.test"},
            },
            {
                "method": "PATCH",
                "path": f"/Users/{ann}",
                "data": patch_op({"op": "replace", "path": "active", "value": False}),
            },
            {"method": "DELETE", "path": f"/Users/{ann}"},
            {
                "method": "PATCH",
                "path": f"/Groups/{team}",
                "data": patch_op({"op": "add", "path": "members", "value": [{"value": ann}]}),
            },
            {"method": "DELETE", "path": f"/Groups/{team}"},
            post_group("mine", "Mine", [ann]),
        ),
    )
    assert [r["status"] for r in results] == ["404", "404", "404", "404", "404", "400"]
    for result in results[:5]:
        assert result["response"]["status"] == "404"
    assert "ann@bulk.test" not in json.dumps(results)
    after = client.get(f"/scim/v2/Users/{ann}", headers=auth_a)
    assert after.status_code == 200
    assert after.headers["etag"] == etag
    assert after.json()["active"] is True
    assert client.get(f"/scim/v2/Groups/{team}", headers=auth_a).status_code == 200
    assert row_counts(database)[1] == 1
