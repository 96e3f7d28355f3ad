"""Requests, operations and counters shared by the SCIM /Bulk tests (RFC 7644 §3.7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select
from starlette.testclient import TestClient

from sitescim.db.models import Group, Membership, Site, User
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


# A well-formed operation, for requests that are refused for something else.
VALID = post_user("fine")
