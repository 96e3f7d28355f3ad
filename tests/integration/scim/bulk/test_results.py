"""SCIM /Bulk: the result list (RFC 7644 §3.7.3), over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.integration.scim.bulk.calls import (
    ERROR,
    USER_URN,
    bulk,
    id_of,
    patch_op,
    post_group,
    post_user,
    run,
)


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
