"""Instructions per request, counted by callgrind: a figure the machine's load cannot move.

wrk's requests per second on these shared two-core machines swing with whatever
else runs; the number of CPU instructions a request executes does not. This
drives requests through the ASGI application in process (no socket, no HTTP
parser: the same for every app, so left out) under ``valgrind --tool=callgrind``,
once with a few requests and once with many, and divides the difference by the
extra requests, so start-up and warm-up cancel out. The bare Starlette yardstick
of ``scim_load.py`` is measured the same way, and the table gives the ratio.

    .venv/bin/python bench/instructions.py [--requests 400] [--workload get ...]

Each run takes a minute or two per workload and app (valgrind is about 50 times slower).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_site, database, env_for, migrate

ROOT = Path(__file__).resolve().parent.parent
USERS = 1_000
WORKLOADS = ("get", "eq", "page", "patch", "post", "deactivate", "member")
MEMBERS = 100  # the group of the ``member`` workload: the first users, plus one added and removed
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def request_for(
    workload: str, user_ids: list[str], index: int, group_id: str = ""
) -> tuple[str, str, bytes, bytes]:
    """(method, path, query, body) of the ``index``th request of a workload.

    ``patch`` sets ``active`` to true and false in turn over users that are all
    active, so half its requests change nothing; ``deactivate`` changes every
    user it reaches; ``member`` adds a user to a group of ``MEMBERS`` and removes
    it again the next request, as Entra ID sends it (204, no members read back).
    """
    from bench.seed import user_name

    user_id = user_ids[index % len(user_ids)]
    if workload == "deactivate":
        body = {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        }
        return "PATCH", f"/scim/v2/Users/{user_id}", b"", json.dumps(body).encode()
    if workload == "member":
        outsiders = user_ids[MEMBERS:]
        member = outsiders[(index // 2) % len(outsiders)]
        operation = (
            {"op": "add", "path": "members", "value": [{"value": member}]}
            if index % 2 == 0
            else {"op": "remove", "path": f'members[value eq "{member}"]'}
        )
        body = {"schemas": [PATCH_URN], "Operations": [operation]}
        return "PATCH", f"/scim/v2/Groups/{group_id}", b"", json.dumps(body).encode()
    if workload == "get":
        return "GET", f"/scim/v2/Users/{user_id}", b"", b""
    if workload == "page":
        start = 1 + (index * 100) % max(1, len(user_ids) - 100)
        return "GET", "/scim/v2/Users", f"startIndex={start}&count=100".encode(), b""
    if workload == "eq":
        name = user_name(index % len(user_ids))
        return "GET", "/scim/v2/Users", f'filter=userName eq "{name}"'.encode(), b""
    if workload == "patch":
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": index % 2 == 0}],
        }
        return "PATCH", f"/scim/v2/Users/{user_id}", b"", json.dumps(body).encode()
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"counted-{os.getpid()}-{index}@bench.test",
        "name": {"givenName": "Counted", "familyName": f"User {index}"},
        "emails": [{"value": f"counted-{index}@bench.test", "type": "work", "primary": True}],
        "active": True,
    }
    return "POST", "/scim/v2/Users", b"", json.dumps(body).encode()


async def drive(
    app: Any, token: str, workload: str, user_ids: list[str], count: int, group_id: str
) -> None:
    """Start the app's lifespan, send ``count`` requests, stop it; each must succeed."""
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
    for index in range(count):
        # The short and the long run share the database: ``deactivate`` starts past
        # the users an earlier run reached, so each of its requests changes one.
        shifted = index + count if workload == "deactivate" else index
        method, path, query, body = request_for(workload, user_ids, shifted, group_id)
        headers = [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/scim+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False

        async def receive(body: bytes = body) -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status: list[int] = []

        async def send(message: dict[str, Any], status: list[int] = status) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if not status or status[0] >= 300:
            raise SystemExit(f"{method} {path}: {status}")
    await lifespan.put({"type": "lifespan.shutdown"})
    await life


def child(args: argparse.Namespace) -> None:
    seeded = json.loads(Path(args.ids).read_text())
    user_ids, group_id = seeded["users"], seeded["group"]
    if args.app == "yardstick":
        from bench.apps import starlette_yardstick

        app: Any = starlette_yardstick()
    else:
        from sitescim.logs import configure_logging
        from sitescim.settings import get_settings
        from sitescim.web import app as web_app

        # Count requests, not background work: the webhook worker thread, the pool
        # sampler and the statistics refresh ran more or less often as valgrind slowed
        # the run, and moved the same code's count by a fifth. Each periodic task
        # still runs once at start, which the short run's subtraction cancels.
        web_app.POOL_SAMPLE_SECONDS = web_app.STATISTICS_INTERVAL_SECONDS = 10**9
        configure_logging("INFO", log_format="json")
        app = web_app.create_app(get_settings().model_copy(update={"worker": False}))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(
        drive(app, os.environ["BENCH_TOKEN"], args.workload, user_ids, args.count, group_id)
    )


def count_instructions(env: dict[str, str], argv: list[str], out: Path) -> int:
    """The instructions a child run executed; the token goes by environment, not argv."""
    errors = out.with_suffix(".stderr")
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            *argv,
        ],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=errors.open("wb"),
    )
    if done.returncode != 0:
        raise SystemExit(f"the counted run failed; see {errors}")
    match = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
    if match is None:
        raise SystemExit(f"no summary in {out}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workload", action="append", choices=WORKLOADS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--app", choices=("sitescim", "yardstick"), default="sitescim")
    parser.add_argument("--ids", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--workload-one", dest="workload_one", default="get")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="count against a fresh database next to this PostgreSQL one (default: SQLite)",
    )
    args = parser.parse_args()
    if args.child:
        args.workload = args.workload_one
        child(args)
        return

    scratch = Path(tempfile.mkdtemp(prefix="sitescim-instructions-"))
    kind = "postgresql" if args.postgres else "sqlite"
    with database(kind, args.postgres or "", scratch) as url:
        count_workloads(args, url, kind, scratch)


def count_workloads(args: argparse.Namespace, url: str, kind: str, scratch: Path) -> None:
    """Seed the database at ``url``, then count each workload on sitescim and the yardstick."""
    from sqlalchemy import create_engine

    from bench.seed import seed_group, seed_users

    env = env_for(url)
    migrate(env)
    site = create_site(env)
    env["BENCH_TOKEN"] = site.token
    # What depends on the clock would make the count depend on how slow valgrind ran:
    # the token's last-use write (once a minute of wall time) is held off, and
    # hashing is seeded, so two runs of the same code count the same.
    env["SITESCIM_LAST_USED_RESOLUTION_SECONDS"] = str(7 * 24 * 3600)
    env["PYTHONHASHSEED"] = "0"
    engine = create_engine(url)
    ids = seed_users(engine, site.id, USERS)
    group_id = seed_group(engine, site.id, "Counted", ids[:MEMBERS])
    engine.dispose()
    ids_file = scratch / "ids.json"
    ids_file.write_text(json.dumps({"users": ids, "group": group_id}))
    few = 20
    name = "PostgreSQL (this process only)" if kind == "postgresql" else "SQLite"
    print(f"instructions per request, in process, {USERS:,} users on {name}")
    print(f"{'workload':<10}{'sitescim':>14}{'yardstick':>14}{'ratio':>8}")
    for workload in args.workload or ["get"]:
        per: dict[str, float] = {}
        for app in ("sitescim", "yardstick"):
            counts = []
            for n in (few, few + args.requests):
                argv = ["--child", "--app", app, "--ids", str(ids_file)]
                argv += ["--count", str(n), "--workload-one", workload]
                out = scratch / f"callgrind.{app}.{workload}.{n}"
                counts.append(count_instructions(env, argv, out))
            per[app] = (counts[1] - counts[0]) / args.requests
        ratio = per["yardstick"] / per["sitescim"]
        print(f"{workload:<10}{per['sitescim']:>14,.0f}{per['yardstick']:>14,.0f}{ratio:>8.3f}")


if __name__ == "__main__":
    main()
