"""Where a 1,000-operation Bulk request's time goes: the real app, in process, one thread.

Migrates a fresh database (SQLite file, or a PostgreSQL database next to
``--postgres``), makes a site and its token through the CLI, then sends
``--requests`` Bulk requests of ``--batch`` user creations each (after one more, untimed,
that warms the pool) straight to
the ASGI application (no socket, no HTTP parser), checks every operation is
201, and prints users/s, and users per CPU second of this process (every
thread), which the machine's load moves less. On PostgreSQL (a server on this
machine) it adds the CPU its backends for the bench database spent, read
from /proc, and users per CPU second of both. With ``--profile FILE`` the requests run under
yappi (every thread: the job runs in the thread pool; CPU time, so waiting
for the database is left out) and the stats are written to FILE.<database>
in pstats format. yappi is not a dependency: ``.venv/bin/pip install yappi``.

    .venv/bin/python bench/bulk_profile.py [--only sqlite|postgresql] [--requests 10]
        [--batch 1000] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bulk_import import bulk_body
from bench.harness import DEFAULT_POSTGRES_URL, create_site, database, env_for, migrate


async def _send(app: Any, token: str, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/scim/v2/Bulk",
        "raw_path": b"/scim/v2/Bulk",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/scim+json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status: list[int] = []
    answer: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    return status[0], b"".join(answer)


def _server_cpu(url: str) -> float | None:
    """CPU seconds the PostgreSQL backends of this database have used (None: not readable)."""
    if not url.startswith("postgresql"):
        return None
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as connection:
        pids = [
            row[0]
            for row in connection.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _import(
    app: Any, token: str, bodies: list[bytes], profile: Path | None, url: str
) -> tuple[float, float, float | None]:
    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def life_receive() -> dict[str, Any]:
        return await lifespan.get()

    async def life_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    life = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, life_receive, life_send)
    )
    await started.wait()
    if profile:
        import yappi  # type: ignore[import-not-found]

        yappi.set_clock_type("cpu")
        yappi.start()
    # the first request opens the pool's connections: the server's CPU is read from the second
    status, answer = await _send(app, token, bodies[0])
    if status != 200:
        raise SystemExit(f"POST /Bulk: {status} {answer[:300]!r}")
    server = _server_cpu(url)
    began, cpu = time.perf_counter(), time.process_time()
    for body in bodies[1:]:
        status, answer = await _send(app, token, body)
        results = orjson.loads(answer)["Operations"] if status == 200 else []
        if status != 200 or any(result["status"] != "201" for result in results):
            raise SystemExit(f"POST /Bulk: {status} {answer[:300]!r}")
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = _server_cpu(url)
    server = None if server is None or after is None else after - server
    if profile:
        yappi.stop()
        yappi.get_func_stats().save(str(profile), type="pstat")
    await lifespan.put({"type": "lifespan.shutdown"})
    await life
    return seconds, cpu, server


def run(kind: str, args: argparse.Namespace, scratch: Path) -> None:
    with database(kind, args.postgres, scratch) as url:
        env = env_for(url)
        migrate(env)
        site = create_site(env)
        os.environ.update({k: v for k, v in env.items() if k.startswith("SITESCIM_")})
        from sitescim.settings import get_settings
        from sitescim.web.app import create_app

        get_settings.cache_clear()
        app = create_app(get_settings())
        tag = uuid.uuid4().hex[:8]
        total = (args.requests + 1) * args.batch
        bodies = [bulk_body(tag, range(n, n + args.batch)) for n in range(0, total, args.batch)]
        profile = Path(f"{args.profile}.{kind}") if args.profile else None
        seconds, cpu, server = asyncio.run(_import(app, site.token, bodies, profile, url))
        users = args.requests * args.batch
        line = (
            f"{kind}: {users:,} users in {seconds:.2f} s: {users / seconds:,.0f} users/s; "
            f"this process's CPU {cpu:.2f} s: {users / cpu:,.0f} users per CPU second"
        )
        if server is not None:
            line += (
                f"; the server's CPU {server:.2f} s: {users / (cpu + server):,.0f} users"
                " per CPU second of both"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--profile", help="write cProfile stats to PROFILE.<database>")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sitescim-bulk-profile-"))
    try:
        for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
            run(kind, args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
