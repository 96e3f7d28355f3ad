"""What authenticating a SCIM request costs, measured with wrk.

Starts each server as its own single-worker uvicorn process, seeds a site,
a Promaster and a token, drives each workload with wrk and prints requests/s,
p50, p99 and the ratio to a bare ASGI app measured in the same run.

    .venv/bin/python bench/auth_overhead.py [--duration 10] [--connections 16]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import DEFAULT_POSTGRES_URL, env_for, print_table, seed, server, wrk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES_URL,
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    scratch = Path(tempfile.mkdtemp(prefix="sitescim-bench-"))
    sqlite_env = env_for(f"sqlite:///{scratch / 'bench.db'}")
    sqlite_token = seed(sqlite_env)
    spc = "/scim/v2/ServiceProviderConfig"
    auth = {"Authorization": f"Bearer {sqlite_token}"}
    run = lambda base, path, headers: wrk(
        base + path, duration=args.duration, connections=args.connections, headers=headers
    )

    rows: list[tuple[str, dict[str, float]]] = []
    with server("bench.apps:bare", sqlite_env, factory=False) as base:
        rows.append(("bare ASGI app (fixed JSON)", run(base, "/", {})))
    with server("bench.apps:unauthenticated", sqlite_env, factory=True) as base:
        rows.append(("sitescim /healthz (no DB)", run(base, "/healthz", {})))
        rows.append(
            ("ServiceProviderConfig, no auth", run(base, "/bench/ServiceProviderConfig", {}))
        )
        rows.append(("ServiceProviderConfig, token, SQLite", run(base, spc, auth)))
        bad = {
            "Authorization": "Bearer "
            + sqlite_token[:-1]
            + ("A" if sqlite_token[-1] != "A" else "B")
        }
        rows.append(("bad checksum -> 401, SQLite", run(base, spc, bad)))
    if not args.no_postgres:
        pg_env = env_for(args.postgres)
        pg_token = seed(pg_env)
        with server("bench.apps:unauthenticated", pg_env, factory=True) as base:
            rows.append(
                (
                    "ServiceProviderConfig, no auth (PG app)",
                    run(base, "/bench/ServiceProviderConfig", {}),
                )
            )
            rows.append(
                (
                    "ServiceProviderConfig, token, PostgreSQL",
                    run(base, spc, {"Authorization": f"Bearer {pg_token}"}),
                )
            )

    bare_rps = rows[0][1]["rps"]
    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration}s, one uvicorn worker each, {os.cpu_count()} cores\n"
    )
    print_table(rows, bare_rps=bare_rps)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
