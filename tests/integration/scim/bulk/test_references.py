"""SCIM /Bulk: bulkId references that cannot be resolved are refused.

Over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from tests.integration.scim.bulk.calls import (
    bulk,
    post_group,
    post_nameless_user,
    post_user,
    row_counts,
    run,
)


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
