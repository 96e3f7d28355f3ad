"""SCIM /Bulk: failOnErrors and partial failure; a run answers as one by one.

Over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from sitescim.db.models import AuditEvent, Group, Membership
from tests.integration.scim.bulk.calls import (
    ENTERPRISE_URN,
    PATCH_URN,
    USER_URN,
    bulk,
    id_of,
    post_group,
    post_nameless_user,
    post_user,
    run,
    user_names,
)


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
