"""What a `kill -9` of the server may lose: nothing it acknowledged.

A SCIM 201 or 200 is sent only after the request's transaction committed. On
SQLite (WAL, synchronous=NORMAL) a commit is in the WAL file, in the operating
system's cache, before the answer leaves: a killed process loses nothing, only
an OS crash or power loss could take back the last commits (README, Running in
production). On PostgreSQL the commit is the database server's, which the kill
does not touch. Either way a restarted server must find every acknowledged
write, and no half-written user.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sitescim.db.engine import make_engine
from tests.factories import bearer
from tests.integration.killable import (
    SCIM,
    KillableServer,
    killable_server,
    service_env,
    site_token,
    user_payload,
)

pytestmark = pytest.mark.slow

SEQUENTIAL_KILLS = 2
BURST_CLIENTS = 6
BURST_ACKNOWLEDGED_BEFORE_KILL = 12


def _client(server: KillableServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.base_url}/scim/v2",
        headers={**bearer(token), "Content-Type": SCIM, "Accept": SCIM},
        timeout=30,
    )


def _sqlite_file(db_url: str) -> str | None:
    url = make_url(db_url)
    return url.database if url.get_backend_name() == "sqlite" else None


def _assert_intact(db_url: str) -> None:
    """After the kill and before anything reopens it, the file is a sound database."""
    path = _sqlite_file(db_url)
    if path is None:
        return
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()


def _assert_all_there(server: KillableServer, token: str, acknowledged: dict[str, Any]) -> None:
    with _client(server, token) as scim:
        for user_id, expected in acknowledged.items():
            response = scim.get(f"/Users/{user_id}")
            assert response.status_code == 200, (user_id, response.text)
            user = response.json()
            assert user["userName"] == expected["userName"]
            assert user["displayName"] == expected["displayName"]
            emails = sorted(email["value"] for email in user["emails"])
            assert emails == sorted(email["value"] for email in expected["emails"])


@pytest.fixture
def service(db_url, tmp_path) -> Iterator[tuple[KillableServer, str]]:
    env = service_env(db_url)
    token = site_token(env)
    with killable_server(env, tmp_path) as server:
        yield server, token


def test_every_acknowledged_create_and_patch_survives_kill_9(service, db_url):
    server, token = service
    acknowledged: dict[str, Any] = {}
    for i in range(SEQUENTIAL_KILLS):
        sent = user_payload(f"durable-{i}@example.com", f"Durable {i}")
        with _client(server, token) as scim:
            response = scim.post("/Users", json=sent)
        assert response.status_code == 201, response.text
        server.kill()  # at once: the 201 is the only promise made
        acknowledged[response.json()["id"]] = sent
        _assert_intact(db_url)
        server.start()
        _assert_all_there(server, token, acknowledged)

    patched_id = next(iter(acknowledged))
    with _client(server, token) as scim:
        response = scim.patch(
            f"/Users/{patched_id}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "replace", "path": "displayName", "value": "Patched"},
                    {"op": "add", "path": "emails", "value": [{"value": "home@example.com"}]},
                ],
            },
        )
    assert response.status_code == 200, response.text
    server.kill()
    acknowledged[patched_id] = {
        **acknowledged[patched_id],
        "displayName": "Patched",
        "emails": [*acknowledged[patched_id]["emails"], {"value": "home@example.com"}],
    }
    _assert_intact(db_url)
    server.start()
    _assert_all_there(server, token, acknowledged)


def test_kill_9_during_a_burst_of_creates_keeps_the_acknowledged_and_nothing_half_written(
    service, db_url
):
    server, token = service
    acknowledged: dict[str, Any] = {}
    enough = threading.Event()
    lock = threading.Lock()

    def create(client: int) -> None:
        """POST until the server dies under us."""
        with _client(server, token) as scim:
            for n in range(10_000):
                sent = user_payload(f"burst-{client}-{n}@example.com", f"Burst {client} {n}")
                try:
                    response = scim.post("/Users", json=sent)
                except httpx.TransportError:
                    return
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged[response.json()["id"]] = sent
                    if len(acknowledged) >= BURST_ACKNOWLEDGED_BEFORE_KILL:
                        enough.set()

    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        futures = [pool.submit(create, client) for client in range(BURST_CLIENTS)]
        assert enough.wait(120), "the burst never got going"
        server.kill()  # requests are in flight: some written, some not, some half-way
        for future in futures:
            future.result()

    _assert_intact(db_url)
    server.start()
    _assert_all_there(server, token, acknowledged)

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT id FROM users WHERE user_name LIKE 'burst-%'")
            ).scalars()
            stored_ids = set(stored)
            without_emails = connection.execute(
                text(
                    "SELECT user_name FROM users u WHERE user_name LIKE 'burst-%' AND NOT EXISTS "
                    "(SELECT 1 FROM user_values v WHERE v.user_id = u.id AND v.attribute = 'emails')"
                )
            ).all()
    finally:
        engine.dispose()
    assert set(acknowledged) <= stored_ids
    assert without_emails == []
