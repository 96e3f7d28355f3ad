"""sitescim behind Debian's PgBouncer in transaction pooling, prepared statements off.

PgBouncer 1.18 (Debian 12) cannot follow named prepared statements across the
server connections of transaction pooling, so the URL says
``prepare_threshold=none``; every statement below runs more than psycopg's
default threshold of 5 times, so a statement prepared anyway would fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from sitescim.db.engine import Database, make_engine
from sitescim.db.reads import PostgresReads
from sitescim.services.runtime import Runtime
from sitescim.web.app import create_app
from tests.databases import truncate_all
from tests.factories import (
    bearer,
    make_settings,
    make_site,
    make_user,
    sign_in,
)
from tests.integration.pgbouncer import PgBouncer, available, pgbouncer

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]
SCIM = {"Content-Type": "application/scim+json"}
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ROUNDS = 7  # more than psycopg's prepare_threshold of 5
PASSWORD = "correct horse battery staple"


@pytest.fixture
def bouncer(postgres_url: str) -> Iterator[PgBouncer]:
    if not available():
        pytest.fail("pgbouncer is not installed: .ci/run installs Debian's package")
    truncate_all(postgres_url)
    upstream = make_url(postgres_url)
    with pgbouncer((upstream.host or "127.0.0.1", upstream.port or 5432)) as running:
        yield running


@pytest.fixture
def through_bouncer(
    bouncer: PgBouncer, postgres_url: str, tmp_path: Path
) -> Iterator[tuple[TestClient, Database]]:
    url = make_url(postgres_url).set(host="127.0.0.1", port=bouncer.port)
    url = url.update_query_dict({"prepare_threshold": "none"})
    settings = make_settings(url.render_as_string(hide_password=False), log_format="json")
    database = Database(make_engine(settings.database_url))
    runtime = Runtime.from_settings(settings, database)
    make_site(runtime, "Bounced", slug="bounced")
    make_user(runtime, "bounced", "admin@bounced.example.com", "promaster", PASSWORD)
    try:
        with TestClient(create_app(settings, database=database)) as client:
            yield client, database
    finally:
        database.dispose()


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def act_as_identity_provider(client: TestClient) -> None:
    """A token issued through the API by the site's Promaster; the client then sends it."""
    sign_in(client, "bounced", "admin@bounced.example.com", PASSWORD)
    token = _ok(client.post("/api/v1/tokens", json={"description": "Okta", "scope": "scim"}), 201)
    client.cookies.clear()
    client.headers.update({**bearer(token["token"]), **SCIM})


def test_scim_smoke_flow_runs_through_pgbouncer_in_transaction_pooling(
    through_bouncer: tuple[TestClient, Database], bouncer: PgBouncer
) -> None:
    client, database = through_bouncer
    act_as_identity_provider(client)

    users = []
    for n in range(ROUNDS):
        name = f"bounced-{n}@bounced.example.com"
        created = _ok(
            client.post("/scim/v2/Users", json={"schemas": [USER], "userName": name}), 201
        )
        assert _ok(client.get(f"/scim/v2/Users/{created['id']}"), 200)["userName"] == name
        found = _ok(client.get("/scim/v2/Users", params={"filter": f'userName eq "{name}"'}), 200)
        assert found["totalResults"] == 1
        patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": f"B {n}"}]}  # fmt: skip
        assert (
            _ok(client.patch(f"/scim/v2/Users/{created['id']}", json=patch), 200)["displayName"]
            == f"B {n}"
        )
        users.append(created["id"])

    groups = []
    for n in range(ROUNDS):
        group = _ok(client.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": f"G{n}", "members": [{"value": users[n]}]}), 201)  # fmt: skip
        add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": users[(n + 1) % ROUNDS]}]}]}  # fmt: skip
        _ok(client.patch(f"/scim/v2/Groups/{group['id']}", json=add), 204)
        members = _ok(client.get(f"/scim/v2/Groups/{group['id']}"), 200)["members"]
        assert len(members) == 2
        groups.append(group["id"])
    listed = _ok(client.get("/scim/v2/Groups", params={"count": 100}), 200)
    assert listed["totalResults"] == ROUNDS
    everyone = _ok(client.get("/scim/v2/Users", params={"count": 100}), 200)
    assert everyone["totalResults"] == ROUNDS + 1  # and the Promaster

    operations: list[dict[str, Any]] = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{n}",
            "data": {"schemas": [USER], "userName": f"bulk-{n}@bounced.example.com"},
        }
        for n in range(ROUNDS)
    ]
    operations.append({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP], "displayName": "Bulk", "members": [{"value": f"bulkId:u{n}"} for n in range(ROUNDS)]}})  # fmt: skip
    bulk = _ok(client.post("/scim/v2/Bulk", json={"schemas": [BULK], "Operations": operations}), 200)  # fmt: skip
    assert [result["status"] for result in bulk["Operations"]] == ["201"] * (ROUNDS + 1)

    for group_id in groups:
        _ok(client.delete(f"/scim/v2/Groups/{group_id}"), 204)
    for user_id in users:
        _ok(client.delete(f"/scim/v2/Users/{user_id}"), 204)
        _ok(client.get(f"/scim/v2/Users/{user_id}"), 404)

    # Both the engine's and the hot reader's connections ran unprepared...
    with database.engine.connect() as connection:
        assert connection.connection.driver_connection.prepare_threshold is None
    reads = client.app.state.reads  # type: ignore[attr-defined]
    assert isinstance(reads, PostgresReads)
    async_pool = reads._pool
    assert async_pool.kwargs["prepare_threshold"] is None
    # ...and PgBouncer really carried them, in transaction pooling.
    config = {row[0]: row[1] for row in bouncer.admin("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    header, *rows = bouncer.admin("SHOW STATS")
    column = header.index("total_xact_count")
    database_name = make_url(str(database.engine.url)).database
    (stats,) = [row for row in rows if row[0] == database_name]
    assert int(stats[column]) > 10 * ROUNDS
    assert "ERROR" not in bouncer.log()


def test_a_paused_pgbouncer_answers_503_then_recovers_on_resume(
    through_bouncer: tuple[TestClient, Database], bouncer: PgBouncer
) -> None:
    client, _database = through_bouncer
    act_as_identity_provider(client)
    user = {"schemas": [USER], "userName": "paused@bounced.example.com"}
    created = _ok(client.post("/scim/v2/Users", json=user), 201)

    bouncer.pause()
    try:
        refused = [
            client.post("/scim/v2/Users", json={**user, "userName": "during@bounced.example.com"}),
            client.get(f"/scim/v2/Users/{created['id']}"),
        ]
    finally:
        bouncer.admin("RESUME")
    for response in refused:
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()

    again = {**user, "userName": "after@bounced.example.com"}
    _ok(client.post("/scim/v2/Users", json=again), 201)
    _ok(client.get(f"/scim/v2/Users/{created['id']}"), 200)
