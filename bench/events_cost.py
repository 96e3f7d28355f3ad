"""What the application's side costs SCIM writes: POST and PATCH with no webhook endpoint,
then with one endpoint whose deliveries a worker sends meanwhile.

Events are always recorded (the outbox is written with every change); this measures
what delivering them adds on the same core. Issue 11 allows at most 20 % less write
throughput. The server is pinned to core 0; wrk and the receiver share core 1.

    .venv/bin/python bench/events_cost.py [--duration 10] [--connections 8] [--users 10000]
        [--databases sqlite,postgresql] [--worker-thread]

As `sitescim serve` runs them, the HTTP process has no worker thread and a
``sitescim worker`` process delivers, here pinned to core 1 (beside wrk and the
receiver). ``--worker-thread``: the HTTP process's own worker thread delivers,
on the server's core, as ``create_app`` alone (SITESCIM_WORKER=true) does.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.harness import (
    BIN,
    DEFAULT_POSTGRES_URL,
    LUA,
    SITESCIM_APP,
    cli,
    create_site,
    database,
    env_for,
    migrate,
    pinned_to,
    server,
    wrk,
)
from bench.seed import seed_users
from sitescim.db.engine import make_engine

SERVER_CORE = 0
CLIENT_CORE = 1


def run(kind: str, args: argparse.Namespace, scratch: Path) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    with database(kind, args.postgres, scratch) as url:
        env = {**env_for(url), "SITESCIM_WEBHOOKS_ALLOW_PRIVATE": "true"}
        migrate(env)
        site = create_site(env)
        engine = make_engine(url)
        ids = seed_users(engine, site.id, args.users)
        ids_file = scratch / f"ids-{kind}.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        headers = {"Authorization": f"Bearer {site.token}"}

        server_env = env if args.worker_thread else {**env, "SITESCIM_WORKER": "false"}

        def measure(tag: str) -> dict[str, float]:
            figures = {}
            with server(SITESCIM_APP, server_env, factory=True, core=SERVER_CORE) as base:
                for name, script, script_args in (
                    ("POST /Users", "post_user.lua", (f"{tag}-{time.time_ns()}",)),
                    ("PATCH active", "patch_active.lua", (str(ids_file),)),
                ):
                    result = wrk(
                        base + "/scim/v2/Users",
                        duration=args.duration,
                        connections=args.connections,
                        headers=headers,
                        script=LUA / script,
                        script_args=script_args,
                        core=CLIENT_CORE,
                    )
                    figures[name] = result["rps"]
            return figures

        without = measure("none")
        with server(
            "bench.apps:webhook_receiver", env, factory=False, core=CLIENT_CORE, ready_path="/"
        ) as receiver:
            cli(env, "webhook", "add", receiver + "/hook")
            worker = None
            if not args.worker_thread:
                worker = subprocess.Popen(
                    [str(BIN / "sitescim"), "worker"],
                    env={**env, "SITESCIM_LOG_LEVEL": "WARNING"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=pinned_to(CLIENT_CORE),
                )
            with_endpoint = measure("hook")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # let the worker catch up, for the count below
                with engine.connect() as connection:
                    pending = connection.execute(
                        text("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                    ).scalar_one()
                if not pending:
                    break
                time.sleep(1)
            if worker is not None:
                worker.terminate()
                worker.wait(30)
        with engine.connect() as connection:
            delivered = connection.execute(
                text("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            ).scalar_one()
        engine.dispose()
        print(f"[{kind}] deliveries made while measuring: {delivered:,}", flush=True)
        for name, rps in without.items():
            rows.append((f"{kind}: {name}", rps, with_endpoint[name]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--worker-thread", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    scratch = Path(tempfile.mkdtemp(prefix="sitescim-events-cost-"))
    rows: list[tuple[str, float, float]] = []
    for kind in args.databases.split(","):
        rows.extend(run(kind.strip(), args, scratch))
    print("\n| workload | no endpoint req/s | one endpoint req/s | ratio |")
    print("|---|---:|---:|---:|")
    for name, without, with_endpoint in rows:
        print(f"| {name} | {without:,.0f} | {with_endpoint:,.0f} | {with_endpoint / without:.2f} |")


if __name__ == "__main__":
    main()
