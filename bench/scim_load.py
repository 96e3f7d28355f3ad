"""`make bench-scim`: sitescim's SCIM API against a bare Starlette app and scim2-server.

For each database (SQLite, PostgreSQL) and each size (``--users``, default
10,000 and 100,000): migrate a fresh database, make a site with a Promaster and
a token through the CLI, bulk-load N users (bench/seed.py) plus a second site of
1,000 users, then measure each workload with wrk on three servers, one uvicorn
worker each (uvloop, httptools, no access log), pinned to one core while wrk
runs on another:

- the yardstick: ``bench.apps:starlette_yardstick``, a bare Starlette app with
  the same routes answering fixed bodies; every ratio is sitescim's req/s over
  its req/s for the same workload in the same run;
- sitescim itself (``sitescim.cli:worker_app``, as ``sitescim serve`` runs it (access log on)), a fresh process per workload;
- the peer: scim2-server's ASGI app over its in-memory storage, seeded with the
  same users under the same ids (``bench.apps:scim2_server_peer``), a fresh
  process per workload, where it supports the workload.

It prints the plans of the ``userName eq``, ``externalId eq`` and
``emails.value co`` queries, one markdown table per database and size, the
ratio of the group PATCH latencies at 100,000 and at 10 members, the Bulk
import rate against its target, and the ``eq`` latency at 1,000 users against
N users (issue 3 wants it within 1.5x). Any non-2xx/3xx answer or socket error
is listed under FAILURES and the script exits 1.

    .venv/bin/python bench/scim_load.py [--users 10000,100000] [--duration 10]
        [--connections 8] [--only sqlite|postgresql] [--workloads get,patch,...]
        [--quick] [--no-peer] [--profile WORKLOAD]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.explain import explain
from bench.harness import (
    BIN,
    DEFAULT_POSTGRES_URL,
    LUA,
    SITESCIM_APP,
    create_site,
    database,
    env_for,
    migrate,
    server,
    wrk,
)
from bench.measure import check_result, compare_latency, cursor_step, run_bulk, run_workload
from bench.profiles import summarise_profile
from bench.report import (
    print_comparison,
    print_group_ratio,
    print_latency_verdict,
    print_target_verdicts,
)
from bench.seed import seed_users
from bench.workloads import (
    BIG_GROUP,
    DEFAULT_WORKLOADS,
    PAGE,
    SMALL_GROUP,
    SMALL_SITE_USERS,
    WORKLOADS,
    Row,
    Sized,
    plain_workloads,
    seed_groups,
    write_peer_seeds,
)
from sitescim.db.engine import make_engine


def run_size(
    kind: str, users: int, args: argparse.Namespace, scratch: Path, selected: list[str]
) -> list[str]:
    failures: list[str] = []
    with database(kind, args.postgres, scratch) as url:
        env = env_for(url)
        migrate(env)
        big = create_site(env)
        small = create_site(env)
        engine = make_engine(url)
        started = time.perf_counter()
        ids = seed_users(engine, big.id, users)
        seed_users(engine, small.id, SMALL_SITE_USERS)
        print(
            f"\n[{kind}, {users:,} users] seeded {users:,} + {SMALL_SITE_USERS:,} users "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        ids_file = scratch / f"ids-{kind}-{users}.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        explain(engine, big.id, users)
        engine.dispose()
        sized = Sized(
            kind, users, {**env, "BENCH_TOKEN": big.token}, big, small, ids, ids_file, scratch,
            uuid.uuid4().hex[:8],
        )  # fmt: skip
        write_peer_seeds(sized)

        rows: dict[str, Row] = {}
        profiles: list[Path] = []
        with server("bench.apps:bare", env, factory=False, core=args.server_core) as base:
            raw = wrk(
                base + "/",
                duration=args.duration,
                connections=args.connections,
                headers={},
                core=args.client_core,
            )
        failures += check_result("raw ASGI", kind, "fixed JSON", raw, args)[0]
        with server(
            "bench.apps:starlette_yardstick", sized.env, factory=True, core=args.server_core
        ) as yardstick:
            plain = {w.key: w for w in plain_workloads(users, ids_file, ids[0], sized.run_tag)}
            # Reads first, then writes: PATCH and POST change what the reads would see.
            for key in (
                "get",
                "username",
                "emailco",
                "page",
                "deeppage",
                "cursor",
                "patch",
                "post",
            ):
                if key not in selected:
                    continue
                if key == "cursor":
                    row, problems = cursor_step(sized, yardstick, args, profiles)
                else:
                    row, problems = run_workload(sized, plain[key], yardstick, args, profiles)
                failures += problems
                if row is not None:
                    rows[key] = row
            if "group" in selected:
                for workload in seed_groups(sized, url):
                    rows[workload.key], problems = run_workload(
                        sized, workload, yardstick, args, profiles
                    )
                    failures += problems
            if "bulk" in selected:
                post_rps = rows["post"].bare["rps"] if "post" in rows and rows["post"].bare else 0.0
                if not post_rps:
                    post_rps = wrk(
                        yardstick + "/",
                        duration=args.duration,
                        connections=args.connections,
                        headers={"Authorization": f"Bearer {big.token}"},
                        script=LUA / "post_user.lua",
                        script_args=(sized.run_tag,),
                        core=args.client_core,
                    )["rps"]
                rows["bulk"], problems = run_bulk(sized, args, post_rps)
                failures += problems
        if "username" in selected:
            with server(SITESCIM_APP, env, factory=True, core=args.server_core) as base:
                latency = compare_latency(base, big, small, users, args)
        print_comparison(
            list(rows.values()),
            f"### {kind}: {users:,} users, wrk -t1 -c{args.connections} -d{args.duration}s, "
            f"one uvicorn worker on core {args.server_core}, wrk on core {args.client_core}, "
            f"{os.cpu_count()} cores",
        )
        print(
            f"\nraw ASGI app (uvicorn alone, no routing or auth): {raw['rps']:,.0f} req/s, "
            f"p50 {raw['p50']:.2f} ms, p99 {raw['p99']:.2f} ms"
        )
        print_group_ratio(rows, SMALL_GROUP, min(BIG_GROUP, users))
        print_target_verdicts(rows, kind)
        if "username" in selected:
            failures += print_latency_verdict(latency, raw["rps"], kind, users)
        for stacks in profiles:
            summarise_profile(stacks)
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", help="comma list of sizes (default 10000,100000)")
    parser.add_argument("--duration", type=int, help="seconds per workload (default 10)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--latency-duration", type=int, help="seconds per 1-connection latency run (default 5)"
    )
    parser.add_argument("--bulk-users", type=int, help="users imported by /Bulk (default 10000)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2,000 users, 2 s a workload, 2,000 users by Bulk (explicit options win)",
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--workloads", default=DEFAULT_WORKLOADS, help=f"comma list of {','.join(WORKLOADS)}"
    )
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip scim2-server")
    parser.add_argument("--server-core", type=int, default=1, help="CPU the servers run on")
    parser.add_argument("--client-core", type=int, default=0, help="CPU wrk runs on")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--profile",
        metavar="WORKLOAD",
        help="sample sitescim with py-spy during this workload and print where time goes",
    )
    args = parser.parse_args()
    quick = args.quick
    args.users = args.users or ("2000" if quick else "10000,100000")
    args.duration = args.duration or (2 if quick else 10)
    args.latency_duration = args.latency_duration or (1 if quick else 5)
    args.bulk_users = args.bulk_users or (2_000 if quick else 10_000)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    sizes = [int(size) for size in args.users.replace("_", "").split(",") if size.strip()]
    if min(sizes) < 4 * PAGE:
        sys.exit(f"--users must be at least {4 * PAGE} (the cursor walk goes {PAGE} a page)")
    usable = os.sched_getaffinity(0)
    if {args.server_core, args.client_core} - usable or args.server_core == args.client_core:
        sys.exit(
            f"--server-core and --client-core must be two of the usable cores {sorted(usable)}"
        )
    selected = [name.strip() for name in args.workloads.split(",") if name.strip()]
    if args.profile and not (BIN / "py-spy").exists():
        sys.exit("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    if unknown := set(selected) - set(WORKLOADS):
        sys.exit(f"unknown workloads: {', '.join(sorted(unknown))}")

    # A terminated run still stops its servers and drops its PostgreSQL database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    failures: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="sitescim-scim-load-"))
    try:
        for kind in kinds:
            for users in sizes:
                failures += run_size(kind, users, args, scratch, selected)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print("\nFAILURES:")
        for failure in failures:
            print(f"  - {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
