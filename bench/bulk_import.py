"""Importing users: SCIM Bulk against single POSTs, on SQLite and PostgreSQL (issue 4).

For each database: migrate a fresh one, then for each way of importing start
ONE uvicorn worker of the real app (bench/harness.py), make a site with a
Promaster and a token through the CLI, and import ``--users`` users:

| key | how |
|---|---|
| `bulk-1000` | `POST /Bulk` with 1,000 POST operations at a time, one request after the other |
| `bulk-all` | one `POST /Bulk` with every user (its server runs with raised bulk limits) |
| `single` | one `POST /Users` per user, `--concurrency` requests in flight |

Every answer is checked (each operation 201), the site's user count is
checked afterwards, and the table gives users/s for each. Any failure is
listed under FAILURES and the script exits 1.

    .venv/bin/python bench/bulk_import.py [--users 10000] [--concurrency 16]
        [--only sqlite|postgresql] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DEFAULT_POSTGRES_URL,
    SITESCIM_APP,
    create_site,
    database,
    env_for,
    migrate,
    server,
)

BATCH = 1_000
DEFAULT_MAX_PAYLOAD = 2_097_152  # settings.bulk_max_payload_bytes
RAISED_PAYLOAD = 64 * 1_048_576
REQUEST_TIMEOUT = 3_600
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


def user(tag: str, n: int) -> dict[str, Any]:
    """A user as identity providers send one: name, work e-mail, externalId."""
    return {
        "schemas": [USER_URN],
        "userName": f"{tag}-{n}@bench.test",
        "externalId": f"{tag}-{n}",
        "name": {"givenName": "Bench", "familyName": f"User {n}"},
        "emails": [{"value": f"{tag}-{n}@bench.example.com", "type": "work", "primary": True}],
        "active": True,
    }


def bulk_body(tag: str, numbers: range) -> bytes:
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": user(tag, n)}
        for n in numbers
    ]
    return json.dumps({"schemas": [BULK_REQUEST], "Operations": operations}).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, as a client library keeps."""

    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.http = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=REQUEST_TIMEOUT
        )
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
        }

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.http.request(method, path, body=body, headers=self.headers)
        response = self.http.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.http.close()


@dataclass
class Outcome:
    requests: int
    seconds: float
    failures: list[str]
    latencies: list[float] = field(default_factory=list)  # ms per request, bulk only


def import_in_bulk(base: str, token: str, tag: str, users: int, batch: int) -> Outcome:
    bodies = [
        bulk_body(tag, range(start, min(start + batch, users))) for start in range(0, users, batch)
    ]
    failures: list[str] = []
    connection = Connection(base, token)
    latencies: list[float] = []
    started = time.perf_counter()
    for body in bodies:
        sent = time.perf_counter()
        status, answer = connection.request("POST", "/scim/v2/Bulk", body)
        latencies.append((time.perf_counter() - sent) * 1000)
        if status != 200:
            failures.append(f"POST /Bulk: {status} {answer[:300]!r}")
            continue
        statuses = [operation["status"] for operation in json.loads(answer)["Operations"]]
        if statuses.count("201") != len(statuses) or not statuses:
            bad = [s for s in statuses if s != "201"]
            failures.append(f"POST /Bulk: {len(bad)} of {len(statuses)} operations not 201")
    seconds = time.perf_counter() - started
    connection.close()
    return Outcome(requests=len(bodies), seconds=seconds, failures=failures, latencies=latencies)


def import_one_by_one(base: str, token: str, tag: str, users: int, concurrency: int) -> Outcome:
    bodies = [json.dumps(user(tag, n)).encode() for n in range(users)]
    failures: list[str] = []
    lock = threading.Lock()
    following = iter(range(users))

    def work() -> None:
        connection = Connection(base, token)
        try:
            while True:
                with lock:
                    n = next(following, None)
                if n is None:
                    return
                status, answer = connection.request("POST", "/scim/v2/Users", bodies[n])
                if status != 201:
                    with lock:
                        failures.append(f"POST /Users: {status} {answer[:200]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome(requests=users, seconds=time.perf_counter() - started, failures=failures)


def site_users(base: str, token: str) -> int:
    connection = Connection(base, token)
    status, answer = connection.request("GET", "/scim/v2/Users?count=1")
    connection.close()
    return int(json.loads(answer)["totalResults"]) if status == 200 else -1


def run_database(kind: str, args: argparse.Namespace, scratch: Path) -> list[tuple[str, Outcome]]:
    rows: list[tuple[str, Outcome]] = []
    with database(kind, args.postgres, scratch) as url:
        base_env = env_for(url)
        migrate(base_env)
        raised = {
            **base_env,
            "SITESCIM_BULK_MAX_OPERATIONS": str(args.users),
            "SITESCIM_BULK_MAX_PAYLOAD_BYTES": str(RAISED_PAYLOAD),
        }
        plans = [
            (f"bulk, {BATCH:,} per request", base_env, "bulk", BATCH),
            (f"bulk, {args.users:,} in one request", raised, "bulk", args.users),
            (f"single POST /Users, {args.concurrency} in flight", base_env, "single", 0),
        ]
        for label, env, how, batch in plans:
            site = create_site(env)
            tag = uuid.uuid4().hex[:8]
            with server(SITESCIM_APP, env, factory=True) as base:
                if how == "bulk":
                    outcome = import_in_bulk(base, site.token, tag, args.users, batch)
                else:
                    outcome = import_one_by_one(base, site.token, tag, args.users, args.concurrency)
                count = site_users(base, site.token)
            if count != args.users + 1:  # and the site's Promaster
                outcome.failures.append(f"{count - 1} users imported, not {args.users}")
            print(
                f"  [{kind}] {label}: {args.users / outcome.seconds:,.0f} users/s "
                f"({outcome.seconds:.1f} s)",
                flush=True,
            )
            rows.append((f"{kind} | {label}", outcome))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    if len(bulk_body("x" * 8, range(BATCH))) > DEFAULT_MAX_PAYLOAD:
        sys.exit(f"a batch of {BATCH:,} users no longer fits the default maxPayloadSize")
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    scratch = Path(tempfile.mkdtemp(prefix="sitescim-bulk-import-"))
    rows: list[tuple[str, Outcome]] = []
    try:
        for kind in kinds:
            rows += run_database(kind, args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\n### Importing {args.users:,} users, one uvicorn worker, {os.cpu_count()} cores\n"
        "\n| database | how | requests | seconds | users/s |\n|---|---|---:|---:|---:|"
    )
    for name, outcome in rows:
        print(
            f"| {name} | {outcome.requests:,} | {outcome.seconds:.1f} "
            f"| {args.users / outcome.seconds:,.0f} |"
        )
    failures = [f"{name}: {failure}" for name, outcome in rows for failure in outcome.failures]
    if failures:
        print("\nFAILURES:")
        for failure in failures[:50]:
            print(f"  - {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
