"""Issue 11's promise, end to end: a consumer that keeps its cursor sees every event
exactly once, in order per site, while eight writers provision concurrently and both
sides restart (the server by SIGKILL, the consumer by starting over from its saved cursor).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sitescim.services import api_keys
from tests.factories import bearer
from tests.integration.killable import (
    SCIM,
    KillableServer,
    killable_server,
    operator_runtime,
    service_env,
    site_token,
    user_payload,
)

pytestmark = pytest.mark.slow

WRITERS = 8
CHANGES_PER_WRITER = 12
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Consumer:
    """Follows the feed from a saved cursor; 'restarting' it keeps only that cursor."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.cursor: str | None = None
        self.seen: list[dict[str, Any]] = []

    def restarted(self) -> Consumer:
        """A new process of the consumer: it has its saved cursor and what it processed."""
        again = Consumer(self.key)
        again.cursor, again.seen = self.cursor, self.seen
        return again

    def poll(self, base_url: str) -> int:
        params = {"limit": "50", **({"after": self.cursor} if self.cursor else {})}
        response = httpx.get(
            f"{base_url}/api/v1/events", params=params, headers=bearer(self.key), timeout=10
        )
        assert response.status_code == 200, response.text
        page = response.json()
        self.seen.extend(page["events"])
        self.cursor = page["next"]
        return len(page["events"])


@pytest.fixture
def service(db_url: str, tmp_path: Path) -> Iterator[tuple[KillableServer, dict[str, str], str]]:
    env = service_env(db_url)
    tokens = {slug: site_token(env, slug) for slug in ("east", "west")}
    with operator_runtime(env) as runtime:
        key = api_keys.create_key(runtime, description="consumer").key
    with killable_server(env, tmp_path) as server:
        yield server, tokens, key


def _write(
    server: KillableServer,
    token: str,
    writer: int,
    acknowledged: list[tuple[str, str, str]],
    lock: threading.Lock,
) -> None:
    """Create a user, then rename it again and again; keep what the server acknowledged.

    A request cut by the kill is retried on the restarted server; it may or may not
    have committed, so only acknowledged changes are promised.
    """
    user_id: str | None = None
    step = 0
    while step < CHANGES_PER_WRITER:
        name = f"writer {writer} step {step}"
        try:
            with httpx.Client(
                base_url=f"{server.base_url}/scim/v2",
                headers={**bearer(token), "Content-Type": SCIM},
                timeout=30,
            ) as scim:
                if user_id is None:
                    body = user_payload(f"w{writer}-{time.monotonic_ns()}@example.com", name)
                    response = scim.post("/Users", json=body)
                    assert response.status_code == 201, response.text
                    user_id = response.json()["id"]
                else:
                    operation = {"op": "replace", "path": "displayName", "value": name}
                    response = scim.patch(
                        f"/Users/{user_id}", json={"schemas": [PATCH], "Operations": [operation]}
                    )
                    assert response.status_code == 200, response.text
        except httpx.TransportError:
            time.sleep(0.2)  # the server is being killed or restarted
            continue
        assert user_id is not None
        with lock:
            acknowledged.append((user_id, name, "created" if step == 0 else "updated"))
        step += 1


def test_a_consumer_sees_every_event_once_in_order_across_restarts_of_both_sides(
    service: tuple[KillableServer, dict[str, str], str],
) -> None:
    server, tokens, key = service
    acknowledged: list[tuple[str, str, str]] = []
    lock = threading.Lock()
    writers = [
        threading.Thread(
            target=_write,
            args=(server, tokens["east" if n % 2 else "west"], n, acknowledged, lock),
        )
        for n in range(WRITERS)
    ]
    for thread in writers:
        thread.start()

    consumer = Consumer(key)
    restarts = 0
    while any(thread.is_alive() for thread in writers):
        try:
            consumer.poll(server.base_url)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        with lock:
            progress = len(acknowledged)
        if restarts < 2 and progress >= (restarts + 1) * WRITERS * CHANGES_PER_WRITER // 3:
            server.kill()  # both sides restart: the server by SIGKILL...
            server.start()
            consumer = consumer.restarted()  # ...the consumer from its saved cursor only
            restarts += 1
        time.sleep(0.01)
    for thread in writers:
        thread.join()
    while consumer.poll(server.base_url):
        pass

    ids = [event["id"] for event in consumer.seen]
    assert len(ids) == len(set(ids)), "an event was seen twice"
    assert ids == sorted(ids), "the feed went back"
    everything = Consumer(key)
    while everything.poll(server.base_url):
        pass
    assert [event["id"] for event in everything.seen] == ids, "the follower missed events"

    names_by_user: dict[str, list[str]] = defaultdict(list)
    for event in consumer.seen:
        if event["type"] in ("user.created", "user.updated") and "displayName" in event["data"]:
            names_by_user[event["data"]["id"]].append(event["data"]["displayName"])
    for user_id, name, _ in acknowledged:
        assert name in names_by_user[user_id], f"acknowledged change {name!r} has no event"
    for user_id, names in names_by_user.items():  # each user's changes arrive in the order made
        steps = [int(name.rsplit(" ", 1)[1]) for name in names]
        assert steps == sorted(steps), (user_id, names)
    sites = {event["site"]["slug"] for event in consumer.seen}
    assert sites == {"east", "west"}
    assert restarts == 2
