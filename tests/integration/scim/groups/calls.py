"""Requests and a statement recorder shared by the SCIM /Groups tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.factories import patch_body

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def create(client, auth_a, display_name: str = "Engineering", **extra: Any):
    body = {"schemas": [GROUP_URN], "displayName": display_name, **extra}
    response = client.post("/scim/v2/Groups", json=body, headers=auth_a)
    assert response.status_code == 201, response.text
    return response.json()


def patch(client, auth_a, group_id: str, *operations: dict[str, Any], query: str = ""):
    body = patch_body(*operations)
    return client.patch(f"/scim/v2/Groups/{group_id}{query}", json=body, headers=auth_a)


def patched(client, auth_a, group_id: str, *operations: dict[str, Any]) -> dict[str, Any]:
    """PATCH as Entra and Okta send it (no selection): 204 with the new ETag; then the group."""
    response = patch(client, auth_a, group_id, *operations)
    assert response.status_code == 204, response.text
    assert response.content == b""
    read = client.get(f"/scim/v2/Groups/{group_id}", headers=auth_a)
    assert read.headers["etag"] == response.headers["etag"]
    return dict(read.json())


def values(group: dict[str, Any]) -> set[str]:
    return {member["value"] for member in group.get("members", [])}


@contextmanager
def recorded_statements(database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
