"""The SCIM /Users load benchmark of issue 3, on SQLite and PostgreSQL.

For each database: migrate, make a site with a Promaster and a token, bulk-load
N users (bench/seed.py) plus a second site of 1,000 users, start ONE uvicorn
worker of the real app and drive each workload with wrk (Lua scripts in
bench/lua/). The bare ASGI app (bench/apps.py) is measured in the same run, so
every figure is also a ratio to what uvicorn alone manages on this machine.

Besides the table it prints the query plans of ``userName eq`` and
``externalId eq`` at N users, and the latency of each at 1,000 users (the small
site) against N users (the big site), which issue 3 wants within 1.5x.

Any non-2xx response is a failure: the script says so and exits 1.

    .venv/bin/python bench/scim_load.py [--users 100000] [--duration 10]
        [--connections 16] [--only sqlite|postgresql] [--workloads get,patch,...]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, and_, create_engine, select, text
from sqlalchemy.engine import make_url

from bench.harness import (
    BIN,
    DEFAULT_POSTGRES_URL,
    LUA,
    SeededSite,
    create_site,
    env_for,
    migrate,
    print_table,
    server,
    wrk,
)
from bench.seed import seed_users, user_name
from sitescim.db.engine import make_engine
from sitescim.db.models import User

SMALL_SITE_USERS = 1_000
WRK_TIMEOUT = "10s"  # wrk's default of 2 s would hide slow requests as socket errors
SCIM_JSON = "application/scim+json"
PATCH_BODY = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}


@dataclass(frozen=True)
class Workload:
    """One row of the table: what wrk runs, and one request of the same kind to check first."""

    key: str
    label: str
    path: str
    script: str | None
    script_args: tuple[str, ...]
    probe: tuple[str, str, dict | None]  # method, path, JSON body


def workloads(users: int, ids_file: Path, first_id: str, run_tag: str) -> list[Workload]:
    deep = max(1, users - 100)
    eq = urllib.parse.quote(f'userName eq "{user_name(users // 2)}"')
    co = urllib.parse.quote(f'emails.value co "{users // 2}@"')
    post_probe = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"probe-{run_tag}@bench.test",
        "emails": [
            {"value": f"probe-{run_tag}@bench.example.com", "type": "work", "primary": True}
        ],
        "active": True,
    }
    page = f"/scim/v2/Users?startIndex={deep}&count=100"
    # Reads first, then writes: PATCH and POST change what the reads would see.
    return [
        Workload(
            "get",
            "GET /Users/{id}",
            "/",
            "get_by_id.lua",
            (str(ids_file),),
            ("GET", f"/scim/v2/Users/{first_id}", None),
        ),
        Workload(
            "username",
            'filter userName eq "..."',
            "/",
            "filter_eq.lua",
            ("userName", str(users)),
            ("GET", f"/scim/v2/Users?filter={eq}", None),
        ),
        Workload(
            "emailco",
            'filter emails.value co "{n}@"',
            "/",
            "filter_email_co.lua",
            (str(users),),
            ("GET", f"/scim/v2/Users?filter={co}", None),
        ),
        Workload(
            "deeppage",
            f"deep page startIndex={deep}&count=100",
            page,
            None,
            (),
            ("GET", page, None),
        ),
        Workload(
            "patch",
            "PATCH /Users/{id} active",
            "/",
            "patch_active.lua",
            (str(ids_file),),
            ("PATCH", f"/scim/v2/Users/{first_id}", PATCH_BODY),
        ),
        Workload(
            "post",
            "POST /Users",
            "/",
            "post_user.lua",
            (run_tag,),
            ("POST", "/scim/v2/Users", post_probe),
        ),
    ]


def probe(base: str, token: str, method: str, path: str, body: dict | None) -> tuple[int, str]:
    """One request like the workload's, so a failing endpoint is named before wrk runs."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", SCIM_JSON)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(2000).decode(errors="replace")
    except OSError as error:  # a timeout or a dropped connection: the server is stuck
        return 0, f"{type(error).__name__}: {error}"


@contextmanager
def database(kind: str, admin_url: str, scratch: Path) -> Iterator[str]:
    """A fresh database for one run, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{scratch / 'bench.db'}"
        return
    name = "sitescim_bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def filter_condition(site_id: str, scim_filter: str) -> Any:
    """The service's own WHERE clause for a filter, or the indexed equality it should be.

    ``sitescim.scim.filtering.user_filter`` compiles filters for ``GET /Users``;
    while it does not exist yet, the two eq filters fall back to the lookups
    the translation must emit (case-folded ``user_name_key``; ``external_id``
    is caseExact).
    """
    try:
        from sitescim.scim.filtering import user_filter
    except ImportError:
        attribute, _, quoted = scim_filter.split(" ", 2)
        value = json.loads(quoted)
        column = User.user_name_key if attribute == "userName" else User.external_id
        return and_(
            User.site_id == site_id,
            column == value.casefold() if attribute == "userName" else column == value,
        )
    return user_filter(site_id, scim_filter)


def explain(engine: Engine, site_id: str, users: int) -> None:
    """The plans of the page query ``GET /Users?filter=...`` runs, on the loaded tables.

    The statement mirrors ``scim/listing.py``: the filter's condition, creation
    order, the first 100 (the count query has the same WHERE and its own plan).
    """
    middle = users // 2
    probes = {
        "userName eq": f'userName eq "{user_name(middle)}"',
        "externalId eq": f'externalId eq "ext-{middle}"',
    }
    prefix = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    with engine.connect() as connection:
        for name, scim_filter in probes.items():
            statement = (
                select(User)
                .where(filter_condition(site_id, scim_filter))
                .order_by(User.created_at, User.id)
                .limit(100)
            )
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            rows = connection.execute(text(f"{prefix} {compiled}")).all()
            print(f"\nEXPLAIN {name} ({scim_filter}) at {users:,} users ({engine.dialect.name}):")
            for row in rows:
                print("    " + str(row[-1]))


def start_profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy samples the server while wrk runs (``pip install py-spy``)."""
    return subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--function",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


FRAME_FILE = re.compile(r"\(([^/():]+?)(?:\.py)?[/:][^()]*\)$")


def frame_package(frame: str) -> str:
    """``sqlalchemy`` for ``f (sqlalchemy/engine/default.py:1)``, ``threading`` for a module."""
    found = FRAME_FILE.search(frame)
    return found.group(1) if found else "other"


def summarise_profile(collapsed: Path, *, top: int = 25) -> None:
    """Where the server's sampled time goes: by package (self), our functions, hot leaves."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if len(frames) > 1 and frames[-2].startswith("Queue.get") and "WorkerThread" in stack:
            idle += count  # an idle threadpool worker waiting for work
            continue
        total += count
        own[frames[-1]] += count
        packages[frame_package(frames[-1])] += count
        for frame in set(frames):
            if "sitescim/" in frame or "scim2_models/" in frame:
                inclusive[frame] += count
    if not total:
        print("  (no samples)")
        return
    share = lambda count: f"{100 * count / total:.1f}"
    print(
        f"\nprofile: {total} busy samples (all threads; {idle} idle threadpool samples left out), "
        f"collapsed stacks in {collapsed}"
    )
    print("\n| self % | package |\n|---:|---|")
    for package, count in packages.most_common(12):
        print(f"| {share(count)} | {package} |")
    print("\n| inclusive % | sitescim / scim2_models function |\n|---:|---|")
    for frame, count in inclusive.most_common(top):
        print(f"| {share(count)} | `{frame}` |")
    print("\n| self % | function |\n|---:|---|")
    for frame, count in own.most_common(15):
        print(f"| {share(count)} | `{frame}` |")


def compare_latency(
    base: str, big: SeededSite, small: SeededSite, users: int, duration: int
) -> list[tuple[str, dict[str, float]]]:
    """Single-connection latency of each eq filter on the small site, then the big one."""
    rows = []
    for attribute in ("userName", "externalId"):
        for site, count in ((small, SMALL_SITE_USERS), (big, users)):
            result = wrk(
                base + "/",
                duration=duration,
                connections=1,
                headers={"Authorization": f"Bearer {site.token}"},
                script=LUA / "filter_eq.lua",
                script_args=(attribute, str(count)),
            )
            rows.append((f"{attribute} eq at {count:,} users, 1 connection", result))
    return rows


def run_workload(
    kind: str,
    workload: Workload,
    env: dict[str, str],
    site: SeededSite,
    args: argparse.Namespace,
    profiles: list[Path],
) -> tuple[dict[str, float], list[str]]:
    """One workload against a server of its own.

    A fresh process per workload, so requests a slow workload leaves queued in
    the server when wrk stops do not eat into the next workload's time.
    """
    failures: list[str] = []
    pids: list[int] = []
    with server("sitescim.web.app:create_app", env, factory=True, pids=pids) as base:
        status, body = probe(base, site.token, *workload.probe)
        if not 200 <= status < 300:
            failures.append(f"{kind} {workload.label}: probe {status} {body[:300]}")
            print(f"  probe of {workload.label}: {status} {body[:300]}", flush=True)
        profiler = None
        stacks = Path(tempfile.gettempdir()) / f"sitescim-{kind}-{workload.key}.txt"
        if workload.key == args.profile:
            profiler = start_profile(pids[0], args.duration, stacks)
        result = wrk(
            base + workload.path,
            duration=args.duration,
            connections=args.connections,
            headers={"Authorization": f"Bearer {site.token}"},
            script=LUA / workload.script if workload.script else None,
            script_args=workload.script_args,
            timeout=WRK_TIMEOUT,
        )
        if profiler is not None:
            _, problem = profiler.communicate(timeout=60)
            if profiler.returncode:
                print(f"  py-spy failed: {problem.decode()[-500:]}")
            else:
                profiles.append(stacks)
    if result["requests"] < args.connections:
        failures.append(
            f"{kind} {workload.label}: stalled, {result['requests']:.0f} requests completed "
            f"in {args.duration}s over {args.connections} connections"
        )
    elif result["errors"] or result["socket_errors"]:
        failures.append(
            f"{kind} {workload.label}: {result['errors']:.0f} non-2xx, "
            f"{result['socket_errors']:.0f} socket errors (timeouts included) "
            f"of {result['requests']:.0f} requests"
        )
    return result, failures


def run_database(
    kind: str, args: argparse.Namespace, scratch: Path, selected: list[str]
) -> tuple[list[tuple[str, dict[str, float]]], float, list[str]]:
    failures: list[str] = []
    with database(kind, args.postgres, scratch) as url:
        env = env_for(url)
        migrate(env)
        big = create_site(env)
        small = create_site(env)
        engine = make_engine(url)
        started = time.perf_counter()
        ids = seed_users(engine, big.id, args.users)
        seed_users(engine, small.id, SMALL_SITE_USERS)
        print(
            f"\n[{kind}] seeded {args.users:,} + {SMALL_SITE_USERS:,} users "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        ids_file = scratch / f"ids-{kind}.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        explain(engine, big.id, args.users)
        engine.dispose()

        rows: list[tuple[str, dict[str, float]]] = []
        profiles: list[Path] = []
        with server("bench.apps:bare", env, factory=False) as base:
            bare = wrk(base + "/", duration=args.duration, connections=args.connections, headers={})
        rows.append(("bare ASGI app (fixed JSON)", bare))
        run_tag = uuid.uuid4().hex[:8]
        for workload in workloads(args.users, ids_file, ids[0], run_tag):
            if workload.key not in selected:
                continue
            result, problems = run_workload(kind, workload, env, big, args, profiles)
            failures += problems
            rows.append((workload.label, result))
            print(f"  {workload.label}: {result['rps']:.0f} req/s", flush=True)
        if "username" in selected:
            with server("sitescim.web.app:create_app", env, factory=True) as base:
                latency = compare_latency(base, big, small, args.users, args.latency_duration)
        print_table(
            rows,
            bare_rps=bare["rps"],
            title=(
                f"### {kind}: {args.users:,} users, wrk -t1 -c{args.connections} "
                f"-d{args.duration}s, one uvicorn worker, {os.cpu_count()} cores"
            ),
            ratio_digits=3,
        )
        if "username" in selected:
            print_table(
                latency,
                bare_rps=bare["rps"],
                title=f"### {kind}: eq filter latency, {SMALL_SITE_USERS:,} vs {args.users:,} users",
                ratio_digits=3,
            )
            for i in range(0, len(latency), 2):
                (_, at_small), (_, at_big) = latency[i], latency[i + 1]
                name = latency[i][0].split(" at ")[0]
                factor = at_big["p50"] / at_small["p50"]
                verdict = "within" if factor <= 1.5 else "NOT within"
                print(
                    f"\n{name}: p50 at {args.users:,} / p50 at 1,000 = {factor:.2f} ({verdict} 1.5x)"
                )
                if factor > 1.5:
                    failures.append(f"{kind} {name}: {factor:.2f}x slower at {args.users:,} users")
            for name, result in latency:
                if result["errors"]:
                    failures.append(f"{kind} {name}: {result['errors']:.0f} non-2xx")
        for stacks in profiles:
            summarise_profile(stacks)
    return rows, bare["rps"], failures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--latency-duration", type=int, default=5, help="seconds per 1-connection latency run"
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--workloads",
        default="get,username,emailco,deeppage,patch,post",
        help="comma list of get,username,emailco,deeppage,patch,post",
    )
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--profile",
        metavar="WORKLOAD",
        help="sample the server with py-spy during this workload and print where time goes",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if args.users < 200:
        sys.exit("--users must be at least 200 (the deep page starts at N-100)")
    selected = [name.strip() for name in args.workloads.split(",") if name.strip()]
    known = {"get", "username", "emailco", "deeppage", "patch", "post"}
    if args.profile and not (BIN / "py-spy").exists():
        sys.exit("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    if unknown := set(selected) - known:
        sys.exit(f"unknown workloads: {', '.join(sorted(unknown))}")

    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    failures: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="sitescim-scim-load-"))
    try:
        for kind in kinds:
            failures += run_database(kind, args, scratch, selected)[2]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print("\nFAILURES:")
        for failure in failures:
            print(f"  - {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
