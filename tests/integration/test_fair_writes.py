"""One site's heavy Bulk requests cannot make another site wait behind all of them (SQLite).

SQLite has one writer, and a Bulk is one transaction. Five large Bulk
requests from site A are sent, and once one holds the turn and three wait,
site B's plain creation,
must get the write turn as soon as the Bulk running then is done, not after
all of them. (Between the client sending it and the server queueing it, one
more of A's requests may take the turn: at most two finish first.)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from sitescim.web.app import create_app
from tests.factories import (
    bearer,
    make_settings,
    make_site,
    make_token,
    make_user,
)
from tests.integration.servers import uvicorn_in_thread

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
OPERATIONS = 1000


def _bulk(batch: int) -> dict[str, Any]:
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"b{batch}-{index}",
            "data": {"schemas": [USER], "userName": f"bulk{batch}-{index}@a.example.com"},
        }
        for index in range(OPERATIONS)
    ]
    return {"schemas": [BULK], "Operations": operations}


@pytest.mark.slow
def test_another_sites_write_waits_for_one_bulk_not_for_the_queue(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "fair.db"
    path.write_bytes(sqlite_template.read_bytes())
    settings = make_settings(f"sqlite:///{path}", bulk_max_operations=1000)
    database = Database(make_engine(settings.database_url))
    runtime = Runtime.from_settings(settings, database)
    tokens = {}
    for slug in ("site-a", "site-b"):
        make_site(runtime, slug, slug=slug)
        make_user(runtime, slug, f"admin@{slug}.example.com", "promaster", "correct horse 1")
        tokens[slug] = make_token(runtime, slug, f"admin@{slug}.example.com").value
    finished: dict[str, float] = {}
    lock = threading.Lock()

    def send(name: str, slug: str, url: str, body: dict[str, Any], base_url: str) -> int:
        with httpx.Client(base_url=base_url, headers=bearer(tokens[slug]), timeout=120) as client:
            status = client.post(url, json=body).status_code
        with lock:
            finished[name] = time.monotonic()
        return status

    app = create_app(settings)
    try:
        with uvicorn_in_thread(app) as base_url, ThreadPoolExecutor(6) as pool:
            bulks = [
                pool.submit(send, f"bulk{batch}", "site-a", "/scim/v2/Bulk", _bulk(batch), base_url)
                for batch in range(5)
            ]
            deadline = time.monotonic() + 60
            while app.state.write_turns.waiting < 3:  # one Bulk holds the turn, three wait
                assert time.monotonic() < deadline, "the Bulk requests never queued"
                time.sleep(0.005)
            sent = time.monotonic()
            other = pool.submit(
                send,
                "other",
                "site-b",
                "/scim/v2/Users",
                {"schemas": [USER], "userName": "newcomer@site-b.example.com"},
                base_url,
            )
            assert other.result() == 201
            assert [bulk.result() for bulk in bulks] == [200] * 5
    finally:
        database.dispose()
    pending = [name for name in finished if name != "other" and finished[name] > sent]
    assert len(pending) >= 4, finished
    ahead = [name for name in pending if finished[name] < finished["other"]]
    assert len(ahead) <= 2, (ahead, finished)  # not the whole queue of four
