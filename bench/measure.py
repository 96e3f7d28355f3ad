"""One workload on the three servers of `scim_load.py`, and the runs that are not plain wrk.

`run_workload` runs wrk against the yardstick, a fresh sitescim process (first
probed with one request, optionally sampled by py-spy) and a fresh scim2-server
peer; `check_result` turns a wrk run into failures and a note for the table.
`cursor_step` walks the cursors first, `run_bulk` imports users by /Bulk, and
`compare_latency` measures the `eq` filters over one connection.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.apps import SCIM_MEDIA_TYPE
from bench.bulk_import import BATCH, Connection, Outcome, import_in_bulk, site_users
from bench.harness import LUA, SITESCIM_APP, SeededSite, create_site, server, wrk
from bench.profiles import start_profile
from bench.workloads import (
    PAGE,
    PEER,
    SITESCIM,
    SMALL_SITE_USERS,
    STARLETTE,
    Row,
    Sized,
    Workload,
    cursor_workload,
)

WRK_TIMEOUT = "10s"  # wrk's default of 2 s would hide slow requests as socket errors
PEER_WRK_TIMEOUT = "60s"  # the peer walks every resource on some reads: slow is not broken
PEER_START_TIMEOUT = 900  # validating 100,000 users into scim2-server's storage takes a while


def probe(
    base: str, token: str, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, str]:
    """One request like the workload's, so a failing endpoint is named before wrk runs."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", SCIM_MEDIA_TYPE)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(2000).decode(errors="replace")
    except OSError as error:  # a timeout or a dropped connection: the server is stuck
        return 0, f"{type(error).__name__}: {error}"


def succeeded(status: int) -> bool:
    return 200 <= status < 400


def compare_latency(
    base: str, big: SeededSite, small: SeededSite, users: int, args: argparse.Namespace
) -> list[tuple[str, dict[str, float]]]:
    """Single-connection latency of each eq filter on the small site, then the big one."""
    rows = []
    for attribute in ("userName", "externalId"):
        for site, count in ((small, SMALL_SITE_USERS), (big, users)):
            result = wrk(
                base + "/",
                duration=args.latency_duration,
                connections=1,
                headers={"Authorization": f"Bearer {site.token}"},
                script=LUA / "filter_eq.lua",
                script_args=(attribute, str(count)),
                core=args.client_core,
            )
            rows.append((f"{attribute} eq at {count:,} users, 1 connection", result))
    return rows


def check_result(
    who: str, kind: str, label: str, result: dict[str, float], args: argparse.Namespace
) -> tuple[list[str], str]:
    """Failures of one wrk run, and a note for the table (a peer may be too slow to count)."""
    if result["requests"] < args.connections:
        note = f"stalled: {result['requests']:.0f} requests in {args.duration}s"
        if who == PEER:
            return [], note
        return [f"{kind} {who} {label}: {note} over {args.connections} connections"], note
    if result["errors"] or result["socket_errors"]:
        return [
            f"{kind} {who} {label}: {result['errors']:.0f} non-2xx/3xx, "
            f"{result['socket_errors']:.0f} socket errors (timeouts included) "
            f"of {result['requests']:.0f} requests"
        ], "errors"
    return [], ""


def peer_server(sized: Sized, seed: str, args: argparse.Namespace) -> AbstractContextManager[str]:
    """A fresh scim2-server started from one of the peer's seed files; its base URL."""
    return server(
        "bench.apps:scim2_server_peer",
        {**sized.env, "BENCH_PEER_SEED": str(sized.peer_seeds[seed])},
        factory=True,
        core=args.server_core,
        ready_path="/scim/v2/ServiceProviderConfig",
        start_timeout=PEER_START_TIMEOUT,
    )


def run_wrk(
    base: str, workload: Workload, token: str, args: argparse.Namespace, *, peer: bool = False
) -> dict[str, float]:
    """wrk on ``workload`` against ``base``; the peer's way (its script args, more time) if ``peer``."""
    return wrk(
        base + workload.path,
        duration=args.duration,
        connections=args.connections,
        headers={"Authorization": f"Bearer {token}"},
        script=LUA / workload.script if workload.script else None,
        script_args=(workload.peer_args or workload.script_args) if peer else workload.script_args,
        timeout=PEER_WRK_TIMEOUT if peer else WRK_TIMEOUT,
        core=args.client_core,
    )


def run_peer(
    sized: Sized, workload: Workload, args: argparse.Namespace
) -> tuple[dict[str, float] | None, str, list[str]]:
    """The workload on a fresh scim2-server; (result, note for the table, failures)."""
    if workload.peer_missing:
        return None, workload.peer_missing, []
    with peer_server(sized, workload.peer_seed, args) as base:
        status, body = probe(base, sized.big.token, *workload.probe)
        if not succeeded(status):
            # Not a workload it supports (or not in this form): say so in the table.
            print(f"  probe of {workload.label} on {PEER}: {status} {body[:300]}", flush=True)
            return None, f"refused: {status}", []
        result = run_wrk(base, workload, sized.big.token, args, peer=True)
    failures, note = check_result(PEER, sized.kind, workload.label, result, args)
    return result, note, failures


def run_workload(
    sized: Sized,
    workload: Workload,
    yardstick: str,
    args: argparse.Namespace,
    profiles: list[Path],
    *,
    peer_workload: Workload | None = None,
) -> tuple[Row, list[str]]:
    """One workload on the yardstick, on a fresh sitescim process, then on a fresh peer.

    A fresh process per workload, so requests a slow workload leaves queued in
    the server when wrk stops do not eat into the next workload's time. The peer
    runs ``peer_workload`` instead when given (a cursor of its own).
    """
    failures: list[str] = []
    row = Row(workload.label)
    token = sized.big.token
    bare = run_wrk(yardstick, workload, token, args)
    failures += check_result(STARLETTE, sized.kind, workload.label, bare, args)[0]
    row.bare = bare
    pids: list[int] = []
    with server(SITESCIM_APP, sized.env, factory=True, pids=pids, core=args.server_core) as base:
        status, body = probe(base, token, *workload.probe)
        if not succeeded(status):
            failures.append(f"{sized.kind} {workload.label}: probe {status} {body[:300]}")
            print(f"  probe of {workload.label}: {status} {body[:300]}", flush=True)
        profiler = None
        stacks = Path(tempfile.gettempdir()) / f"sitescim-{sized.kind}-{workload.key}.txt"
        if workload.key == args.profile:
            profiler = start_profile(pids[0], args.duration, stacks)
        result = run_wrk(base, workload, token, args)
        if profiler is not None:
            _, problem = profiler.communicate(timeout=60)
            if profiler.returncode:
                print(f"  py-spy failed: {problem.decode()[-500:]}")
            else:
                profiles.append(stacks)
    problems, row.ours_note = check_result(SITESCIM, sized.kind, workload.label, result, args)
    failures += problems
    row.ours = result
    if args.peer:
        row.peer, row.peer_note, problems = run_peer(sized, peer_workload or workload, args)
        failures += problems
    peer = f", {PEER} {row.peer['rps']:.0f}" if row.peer else ""
    print(
        f"  {workload.label}: starlette {bare['rps']:.0f}, sitescim {result['rps']:.0f}{peer} req/s",
        flush=True,
    )
    return row, failures


PEER_WALK_SECONDS = 120.0
"""scim2-server sorts its whole store per cursor page: at 100,000 users its walk held a
core for over ten minutes, so it is given up after this long (its row says so)."""


def walk_cursor(
    base: str, token: str, users: int, *, seconds: float | None = None
) -> tuple[str | None, int, str]:
    """Follow ``nextCursor`` from the first page to the one before the last; its cursor.

    Returns the cursor, the number of the page it asks for, and what went wrong
    (including running past ``seconds``).
    """
    pages = max(2, users // PAGE - 1)
    connection = Connection(base, token)
    cursor = ""
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        for page in range(1, pages):
            if deadline is not None and time.monotonic() > deadline:
                return None, page, f"given up after {seconds:.0f} s at page {page:,} of {pages:,}"
            path = f"/scim/v2/Users?cursor={urllib.parse.quote(cursor)}&count={PAGE}"
            status, answer = connection.request("GET", path)
            if not succeeded(status):
                return None, page, f"page {page}: {status} {answer[:300]!r}"
            following = json.loads(answer).get("nextCursor")
            if not following:
                return None, page, f"page {page} has no nextCursor"
            cursor = following
    finally:
        connection.close()
    return cursor, pages, ""


def run_bulk(sized: Sized, args: argparse.Namespace, post_rps: float) -> tuple[Row, list[str]]:
    """Import ``--bulk-users`` users by /Bulk, 1,000 a request, into a fresh site; users/s."""
    failures: list[str] = []
    label = f"Bulk import {args.bulk_users:,} users, {BATCH:,} a request (users/s)"
    row = Row(label, unit="users/s")
    row.bare = {"rps": post_rps, "p50": float("nan"), "p99": float("nan")}
    site = create_site(sized.env)
    tag = uuid.uuid4().hex[:8]
    with server(SITESCIM_APP, sized.env, factory=True, core=args.server_core) as base:
        outcome = import_in_bulk(base, site.token, tag, args.bulk_users, BATCH)
        count = site_users(base, site.token) - 1  # and the site's Promaster
    failures += [f"{sized.kind} {SITESCIM} bulk: {failure}" for failure in outcome.failures[:10]]
    if count != args.bulk_users:
        failures.append(
            f"{sized.kind} {SITESCIM} bulk: {count} users imported, not {args.bulk_users}"
        )
    row.ours = bulk_figures(outcome, args.bulk_users)
    if args.peer:
        with peer_server(sized, "empty", args) as base:
            outcome = import_in_bulk(base, sized.big.token, tag, args.bulk_users, BATCH)
            count = site_users(base, sized.big.token)
        failures += [f"{sized.kind} {PEER} bulk: {failure}" for failure in outcome.failures[:10]]
        if count != args.bulk_users:
            failures.append(
                f"{sized.kind} {PEER} bulk: {count} users imported, not {args.bulk_users}"
            )
        row.peer = bulk_figures(outcome, args.bulk_users)
    print(f"  {label}: sitescim {row.ours['rps']:.0f}", flush=True)
    return row, failures


def bulk_figures(outcome: Outcome, users: int) -> dict[str, float]:
    latencies = sorted(outcome.latencies) or [float("nan")]
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {"rps": users / outcome.seconds, "p50": statistics.median(latencies), "p99": p99}


def cursor_step(
    sized: Sized, yardstick: str, args: argparse.Namespace, profiles: list[Path]
) -> tuple[Row | None, list[str]]:
    """Walk sitescim's cursors to a deep page, then hammer that page on all three servers.

    The peer's cursors are its own: it is walked the same way on a server of its own.
    """
    with server(SITESCIM_APP, sized.env, factory=True, core=args.server_core) as base:
        started = time.perf_counter()
        cursor, page, problem = walk_cursor(base, sized.big.token, sized.users)
    if cursor is None:
        return None, [f"{sized.kind} cursor walk: {problem}"]
    print(f"  walked {page - 1:,} cursor pages in {time.perf_counter() - started:.1f}s", flush=True)
    workload = cursor_workload(cursor, page)
    peer_workload = workload
    if args.peer and not workload.peer_missing:
        with peer_server(sized, "users", args) as base:
            peer_cursor, _, problem = walk_cursor(
                base, sized.big.token, sized.users, seconds=PEER_WALK_SECONDS
            )
        if peer_cursor is None:
            peer_workload = replace(workload, peer_missing=f"walk failed: {problem[:80]}")
        else:
            path = f"/scim/v2/Users?cursor={urllib.parse.quote(peer_cursor)}&count={PAGE}"
            peer_workload = replace(workload, path=path, probe=("GET", path, None))
    return run_workload(sized, workload, yardstick, args, profiles, peer_workload=peer_workload)
