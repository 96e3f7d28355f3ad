"""SCIM /Bulk: malformed requests are 400 and write nothing.

Over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.scim.bulk.calls import (
    BULK,
    BULK_REQUEST,
    ERROR,
    PATCH_URN,
    USER_URN,
    VALID,
    bulk,
    post_user,
    row_counts,
    run,
    user_names,
)

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
