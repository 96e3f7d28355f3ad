"""Webhook delivery throughput (issue 11 asks >= 500 events/s to a local receiver).

For each database: migrate a fresh one, make ``--sites`` sites, register one
endpoint for all of them pointing at a local receiver (a raw ASGI app in its own
uvicorn process that verifies every signature with ``standardwebhooks`` and
answers 204), write ``--events`` events spread over the sites, then start
delivering and time until every delivery is recorded as delivered. The time
includes fan-out, claiming, signing, sending and recording. The worker is a real
``sitescim worker`` process (``--in-process``: the same Worker in this process).

    .venv/bin/python bench/webhooks.py [--events 5000] [--sites 4]
        [--only sqlite|postgresql] [--in-process] [--no-verify]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from sitescim.db.engine import Database, make_engine
from sitescim.domain.events import EventType
from sitescim.services import events, webhooks
from sitescim.services.audit import Who
from sitescim.services.runtime import Runtime
from sitescim.services.worker import Worker
from sitescim.settings import Settings

SECRET_ENV = "BENCH_WEBHOOK_SECRET"  # noqa: S105 - the name of a variable, not a secret
EMIT_BATCH = 500

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def receiver(scope: Scope, receive: Receive, send: Send) -> None:
    """The local receiver: 204 to a verified POST, 400 to a bad signature, 200 to /healthz."""
    if scope["type"] != "http":
        return
    status = 200
    if scope["method"] == "POST":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status = 204
        secret = os.environ.get(SECRET_ENV)
        if secret:
            from standardwebhooks import Webhook

            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            try:
                Webhook(secret).verify(body, headers)
            except Exception:
                status = 400
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _runtime(url: str) -> tuple[Runtime, Settings]:
    settings = Settings(
        database_url=url,
        token_pepper=harness.PEPPER,
        session_secret=harness.SESSION,
        webhooks_allow_private=True,
    )
    return Runtime.from_settings(settings, Database(make_engine(url))), settings


def _seed(runtime: Runtime, site_ids: list[str], count: int) -> None:
    who = Who(kind="system")
    for start in range(0, count, EMIT_BATCH):
        with runtime.db.transaction(write=True) as session:
            events.emit(
                session,
                *(
                    events.NewEvent(
                        type=EventType.USER_UPDATED,
                        site_id=site_ids[n % len(site_ids)],
                        resource_id=f"user-{n}",
                        data={"id": f"user-{n}", "userName": f"user{n}@bench.test", "active": True},
                        who=who,
                        now=runtime.clock(),
                        changes={"attributes": ["displayName"]},
                    )
                    for n in range(start, min(start + EMIT_BATCH, count))
                ),
            )


def _delivered(runtime: Runtime) -> int:
    with runtime.db.transaction(write=False) as session:
        value = session.execute(
            text("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
        ).scalar_one()
    return int(value)


def run(kind: str, *, count: int, sites: int, in_process: bool, verify: bool) -> float:
    with (
        tempfile.TemporaryDirectory() as scratch,
        harness.database(kind, harness.DEFAULT_POSTGRES_URL, Path(scratch)) as url,
    ):
        env = harness.env_for(url)
        env["SITESCIM_LOG_LEVEL"] = "WARNING"
        harness.migrate(env)
        site_ids = [harness.create_site(env).id for _ in range(sites)]
        runtime, settings = _runtime(url)
        # Registered first (the receiver needs its secret), pointed at the receiver after.
        created = webhooks.add_endpoint(runtime, "http://127.0.0.1:9/hooks", allow_private=True)
        receiver_env = {**env, SECRET_ENV: created.secret if verify else ""}
        with harness.server("bench.webhooks:receiver", receiver_env, factory=False) as base:
            with runtime.db.transaction(write=True) as session:
                session.execute(
                    text("UPDATE webhook_endpoints SET url = :url"), {"url": base + "/hooks"}
                )
            _seed(runtime, site_ids, count)
            started = time.perf_counter()
            if in_process:
                worker = Worker.from_settings(runtime, settings, jobs=[])
                try:
                    while _delivered(runtime) < count:
                        worker.run_once()
                finally:
                    worker.close()
            else:
                env["SITESCIM_WEBHOOKS_ALLOW_PRIVATE"] = "true"
                process = subprocess.Popen(
                    [str(harness.BIN / "sitescim"), "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    while _delivered(runtime) < count:
                        if process.poll() is not None:
                            raise RuntimeError("sitescim worker exited")
                        time.sleep(0.02)
                finally:
                    process.terminate()
                    process.wait(30)
            elapsed = time.perf_counter() - started
            with runtime.db.transaction(write=False) as session:
                failed_attempts = session.execute(
                    text("SELECT count(*) FROM webhook_attempts WHERE error IS NOT NULL")
                ).scalar_one()
        runtime.db.dispose()
    if failed_attempts:
        raise RuntimeError(f"{failed_attempts} attempts failed (signature or transport)")
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--no-verify", action="store_true")
    options = parser.parse_args()
    kinds = [options.only] if options.only else ["sqlite", "postgresql"]
    mode = "in-process Worker" if options.in_process else "sitescim worker process"
    print(f"webhook delivery, {options.events} events over {options.sites} sites, {mode}")
    for kind in kinds:
        rate = run(
            kind,
            count=options.events,
            sites=options.sites,
            in_process=options.in_process,
            verify=not options.no_verify,
        )
        verdict = "ok" if rate >= 500 else "BELOW 500"
        print(f"  {kind:<11} {rate:8.0f} events/s  ({verdict})", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
