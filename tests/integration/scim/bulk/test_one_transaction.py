"""SCIM /Bulk: one request is one transaction, and bulkId references resolve.

Over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from sitescim.db.models import Membership, User
from tests.integration.scim.bulk.calls import (
    ENTERPRISE_URN,
    GROUP_URN,
    app_with,
    bulk,
    counting_commits,
    id_of,
    patch_op,
    post_group,
    post_user,
    run,
    user_names,
)


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
    # PostgreSQL takes the batch's users and values by COPY
    inserts = [
        statement.replace("COPY", "INSERT INTO", 1)
        for statement in statements
        if statement.startswith(("INSERT INTO", "COPY"))
    ]
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


def test_a_batch_mixes_plain_bodies_with_ones_that_need_the_full_check(
    client, database, world, auth_a
):
    body = bulk(
        post_user("plain", "plain@bulk.test", emails=[{"value": "plain@bulk.test"}]),
        post_user("secret", "secret@bulk.test", password="correct horse battery staple"),
        post_user("worker", "worker@bulk.test", **{ENTERPRISE_URN: {"department": "Sales"}}),
        post_user("second", "second@bulk.test", name={"givenName": "Sam"}),
    )
    results = run(client, auth_a, body)
    assert [result["status"] for result in results] == ["201"] * 4
    ids = {result["bulkId"]: id_of(result["location"]) for result in results}
    with database.transaction(write=False) as session:
        hashes = dict(
            session.execute(
                select(User.user_name, User.password_hash).where(User.id.in_(ids.values()))
            ).all()
        )
    assert hashes["secret@bulk.test"] is not None
    assert hashes["plain@bulk.test"] is None
    worker = client.get(f"/scim/v2/Users/{ids['worker']}", headers=auth_a).json()
    assert worker[ENTERPRISE_URN] == {"department": "Sales"}
    plain = client.get(f"/scim/v2/Users/{ids['plain']}", headers=auth_a).json()
    assert plain["emails"] == [{"value": "plain@bulk.test"}]
