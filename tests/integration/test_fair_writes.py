"""One site's heavy Bulk requests cannot make another site wait behind all of them (SQLite).

SQLite has one writer, and a Bulk is one transaction. Three large Bulk
requests from site A are queued; site B's plain creation, sent after them,
must get the write turn as soon as the Bulk running then is done, not after
all three: it is answered before the second of A's Bulk requests.
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
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.conftest import TEST_PEPPER, TEST_SESSION_SECRET
from tests.factories import bearer, make_site, make_token, make_user
from tests.integration.servers import uvicorn_in_thread

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
OPERATIONS = 600


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
    settings = Settings(
        database_url=f"sqlite:///{path}",
        token_pepper=TEST_PEPPER,
        session_secret=TEST_SESSION_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        bulk_max_operations=1000,
    )
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

    try:
        with uvicorn_in_thread(create_app(settings)) as base_url, ThreadPoolExecutor(4) as pool:
            bulks = []
            for batch in range(3):
                bulks.append(
                    pool.submit(
                        send, f"bulk{batch}", "site-a", "/scim/v2/Bulk", _bulk(batch), base_url
                    )
                )
                time.sleep(0.15)  # each Bulk is parsed and queued before the next is sent
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
            assert [bulk.result() for bulk in bulks] == [200, 200, 200]
    finally:
        database.dispose()
    pending = [name for name in finished if name != "other" and finished[name] > sent]
    assert len(pending) >= 2, finished  # else the machine outran the test: nothing was queued
    ahead = [name for name in pending if finished[name] < finished["other"]]
    assert len(ahead) <= 1, (ahead, finished)  # the Bulk holding the turn, not the queue
