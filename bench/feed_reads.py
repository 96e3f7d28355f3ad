"""What an application pays to follow sitescim: the events feed and the reconciliation reads.

For each database: migrate a fresh one in process, make a site and an operator
key, write ``--events`` events (``services.events.emit``, 1,000 a transaction),
``--large`` users and a group of ``--large`` members (rows inserted straight
into the tables, as bench/group_patch.py does), then walk through the ASGI app
(in-process client, so the figures include FastAPI but no network):

| line | what |
|---|---|
| `feed` | every event, `limit=1000`: events/s, first and last page's milliseconds |
| `users` | every user, `limit=1000`: users/s, first and last page |
| `members` | every member of the large group, `limit=1000`: members/s, first and last page |

A last page that costs what the first does shows the keyset paging holds deep
in a large list (an OFFSET would grow with the depth).

    .venv/bin/python bench/feed_reads.py [--events 100000] [--large 100000]
        [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient

from bench.group_patch import add_group, add_users
from bench.harness import DEFAULT_POSTGRES_URL, PEPPER, SESSION, database
from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.domain.events import EventType
from sitescim.services import api_keys, events, sites
from sitescim.services.audit import Who
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.app import create_app

PAGE = 1000


def add_events(db: Database, site_id: str, count: int) -> None:
    now = datetime.now(UTC)  # not older than the retention, or the app's upkeep prunes them
    for start in range(0, count, PAGE):
        with db.transaction(write=True) as session:
            events.emit(
                session,
                *(
                    events.NewEvent(
                        type=EventType.USER_UPDATED,
                        site_id=site_id,
                        resource_id=str(n),
                        data={"id": str(n), "userName": f"u{n}@bench.test", "active": True},
                        who=Who(kind="system"),
                        now=now,
                        changes={"attributes": ["userName"]},
                    )
                    for n in range(start, min(start + PAGE, count))
                ),
            )


def walk(client: TestClient, path: str, headers: dict[str, str], *, feed: bool) -> dict[str, Any]:
    """Every page of a list; the count, items/s and the first and last page's ms."""
    timings: list[float] = []
    total = 0
    cursor: str | None = None
    started = time.perf_counter()
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if cursor is not None:
            params["after" if feed else "cursor"] = cursor
        begun = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        timings.append((time.perf_counter() - begun) * 1000)
        assert response.status_code == 200, response.text
        page = response.json()
        items = next(value for key, value in page.items() if isinstance(value, list))
        total += len(items)
        if feed and not items:
            timings.pop()  # the empty page that says the feed is read
            break
        cursor = page["next"]
        if not feed and cursor is None:
            break
    elapsed = time.perf_counter() - started
    return {"count": total, "per_second": total / elapsed, "first": timings[0], "last": timings[-1]}


def run(kind: str, url: str, count: int, large: int) -> None:
    settings = Settings(
        database_url=url, token_pepper=PEPPER, session_secret=SESSION, log_level="WARNING"
    )
    engine = make_engine(url)
    migrations.upgrade(engine)
    db = Database(engine)
    runtime = Runtime.from_settings(settings, db)
    with db.transaction(write=True) as session:
        site = sites.create_site(session, runtime, "Bench", slug="bench")
    seeding = time.perf_counter()
    add_events(db, site.id, count)
    emitted = time.perf_counter() - seeding
    users = add_users(db, site.id, large)
    group = add_group(db, site.id, "Everyone", users)
    db.refresh_statistics()
    if kind == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    key = api_keys.create_key(runtime, description="bench").key
    headers = {"Authorization": f"Bearer {key}"}
    print(f"{kind:<10} emit     {count / emitted:9.0f} events/s written (1,000 a transaction)")
    with TestClient(create_app(settings, database=db)) as client:
        lines = {
            "feed": walk(client, "/api/v1/events", headers, feed=True),
            "users": walk(client, "/api/v1/sites/bench/users", headers, feed=False),
            "members": walk(
                client, f"/api/v1/sites/bench/groups/{group}/members", headers, feed=False
            ),
        }
    for name, figures in lines.items():
        print(
            f"{kind:<10} {name:<8} {figures['count']:>7} in pages of {PAGE}:"
            f" {figures['per_second']:9.0f}/s, first page {figures['first']:6.1f} ms,"
            f" last page {figures['last']:6.1f} ms",
            flush=True,
        )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        with (
            tempfile.TemporaryDirectory() as scratch,
            database(kind, args.postgres, Path(scratch)) as url,
        ):
            run(kind, url, args.events, args.large)


if __name__ == "__main__":
    main()
