"""A Bulk request records exactly the events of the operations that succeeded, in their order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event as sqlalchemy_event
from starlette.testclient import TestClient

from sitescim.services.tokens import IssuedToken
from tests.factories import PATCH_URN, bearer, make_token
from tests.integration.events.recorded import (
    GROUP_URN,
    USER_URN,
    feed_end,
    recorded,
)
from tests.world import World

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def headers(world: World) -> dict[str, str]:
    issued: IssuedToken = make_token(world.runtime, "site-a", world.promaster_a)
    return bearer(issued.value)


def _bulk(client: TestClient, headers: dict[str, str], *operations: dict[str, Any]) -> Any:
    body = {"schemas": [BULK_REQUEST], "Operations": list(operations)}
    response = client.post("/scim/v2/Bulk", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["Operations"]


def _post_user(bulk_id: str, name: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [USER_URN], "userName": name},
    }


def test_a_bulk_request_with_failures_records_the_successes_in_operation_order(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    existing = client.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": "old@a.test"}, headers=headers
    ).json()["id"]
    start = feed_end(world)
    results = _bulk(
        client,
        headers,
        _post_user("one", "one@a.test"),
        _post_user("dup", "one@a.test"),  # taken by the batch's first: 409
        _post_user("two", "two@a.test"),
        {
            "method": "PATCH",
            "path": f"/Users/{existing}",
            "data": {
                "schemas": [PATCH_URN],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Old"}],
            },
        },
        {"method": "DELETE", "path": "/Users/no-such-user"},  # 404
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "staff",
            "data": {
                "schemas": [GROUP_URN],
                "displayName": "Staff",
                "members": [{"value": existing}],
            },
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "broken",
            "data": {
                "schemas": [GROUP_URN],
                "displayName": "Broken",
                "members": [{"value": "bulkId:dup"}],  # refers to the failed POST: 409
            },
        },
    )
    statuses = [str(result["status"]) for result in results]
    assert statuses == ["201", "409", "201", "200", "404", "201", "409"]

    events = recorded(world.runtime, start)
    assert [
        (event["type"], event["data"].get("userName") or event["data"].get("displayName"))
        for event in events
    ] == [
        ("user.created", "one@a.test"),
        ("user.created", "two@a.test"),
        ("user.updated", "old@a.test"),
        ("group.created", "Staff"),
        ("group.members_added", "Staff"),
    ]
    ids = [event["id"] for event in events]
    assert ids == sorted(ids)
    assert events[0]["data"]["id"] == results[0]["location"].rsplit("/", 1)[1]
    assert events[4]["changes"] == {"members": [{"value": existing, "type": "User"}]}


def test_a_batch_of_creations_writes_its_events_in_one_statement(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # PostgreSQL takes a batch's rows by COPY
        if statement.lstrip().upper().startswith(("INSERT INTO EVENTS", "COPY EVENTS")):
            inserts.append(statement)

    engine = world.runtime.db.engine
    start = feed_end(world)
    sqlalchemy_event.listen(engine, "before_cursor_execute", count)
    try:
        _bulk(client, headers, *(_post_user(f"u{n}", f"u{n}@a.test") for n in range(20)))
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", count)
    assert len(recorded(world.runtime, start)) == 20
    assert len(inserts) == 1
