"""What every benchmark shares: a seeded site, a server process, wrk and its numbers.

Each server runs as its own single-worker uvicorn process on 127.0.0.1, started
the way production starts it (uvloop, httptools, no access log), so a figure is
what one worker manages, not what an in-process test client manages. wrk drives
the load; its own output is parsed for requests/s, p50, p99 and non-2xx counts.
Both may be pinned to a CPU core (``core=``), so that server and client never
take turns on one core.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = Path(__file__).resolve().parent / "lua"
PEPPER = "bench-pepper-" + "x" * 40
SESSION = "bench-session-" + "y" * 40
SITESCIM_APP = "sitescim.cli:worker_app"
"""sitescim as one `sitescim serve` worker: settings from the environment, JSON logs."""
DEFAULT_POSTGRES_URL = os.environ.get(
    "SITESCIM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SITESCIM_DATABASE_URL": database_url,
        "SITESCIM_TOKEN_PEPPER": PEPPER,
        "SITESCIM_SESSION_SECRET": SESSION,
        # As `sitescim serve` runs: one JSON access-log line per request (to a file).
        "SITESCIM_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
        # Limits that are checked on every request but never reached: wrk measures the
        # limiter's cost, not its refusals.
        "SITESCIM_RATE_LIMIT_SCIM_PER_TOKEN": "10000000/second",
        "SITESCIM_RATE_LIMIT_SCIM_PER_ADDRESS": "10000000/second",
    }


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN / "sitescim"), *args, "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    answer: dict[str, Any] = json.loads(out.stdout)
    return answer


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "sitescim"), "db", "upgrade"], env=env, check=True, capture_output=True
    )


@dataclass(frozen=True)
class SeededSite:
    id: str
    slug: str
    token: str


def create_site(env: dict[str, str], *, slug: str | None = None) -> SeededSite:
    """A site with one Promaster and that Promaster's token, made through the CLI."""
    slug = slug or "bench-" + uuid.uuid4().hex[:8]
    site = cli(env, "site", "create", "Bench", "--slug", slug)
    email = f"admin@{slug}.test"
    cli(
        env,
        "user",
        "create",
        email,
        "--site",
        slug,
        "--privilege",
        "promaster",
        "--password",
        "bench-password-123",
    )
    token = cli(env, "token", "create", "--site", slug, "--as", email, "--description", "bench")
    return SeededSite(id=site["id"], slug=slug, token=token["token"])


@contextmanager
def database(kind: str, admin_url: str, scratch: Path) -> Iterator[str]:
    """A fresh database for one run, removed afterwards.

    SQLite: a file in ``scratch``. PostgreSQL: a ``sitescim_bench_*`` database
    created next to the one of ``admin_url`` and dropped afterwards.
    """
    if kind == "sqlite":
        path = scratch / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for leftover in scratch.glob(path.name + "*"):
            leftover.unlink()
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


def seed(env: dict[str, str]) -> str:
    """Migrate, then make a site and return its token."""
    migrate(env)
    return create_site(env).token


def pinned_to(core: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child process (and its threads) to one core."""
    if core is None:
        return None
    return lambda: os.sched_setaffinity(0, {core})


@contextmanager
def server(
    target: str,
    env: dict[str, str],
    *,
    factory: bool,
    pids: list[int] | None = None,
    core: int | None = None,
    ready_path: str = "/healthz",
    start_timeout: float = 30,
) -> Iterator[str]:
    """Yield the base URL of a started server; its process id goes into ``pids`` if given.

    The server is up once ``ready_path`` answers 2xx; ``core`` pins it to one CPU.
    """
    port = free_port()
    command = [
        str(BIN / "uvicorn"),
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        # sitescim runs with the limits `sitescim serve` adds to httptools (web.server).
        "sitescim.web.server:LimitedHttpToolsProtocol" if target == SITESCIM_APP else "httptools",
    ]
    if factory:
        command.append("--factory")
    # A pipe nobody drains would stall a logging server; closed in the finally below.
    log = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
        preexec_fn=pinned_to(core),
    )
    if pids is not None:
        pids.append(process.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(base + ready_path, timeout=1)
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    log.seek(0)
                    problem = log.read().decode(errors="replace")
                    raise RuntimeError(
                        f"server {target} did not start: {problem[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    headers: dict[str, str],
    script: Path | None = None,
    script_args: Sequence[str] = (),
    timeout: str | None = None,
    core: int | None = None,
) -> dict[str, float]:
    """One wrk run (one thread: the server under test has one worker), pinned to ``core``."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if timeout is not None:
        command += ["--timeout", timeout]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=pinned_to(core),
    ).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict[str, float]:
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    rps = float(found.group(1))
    latency = {}
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        latency[pct] = float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
    }


def print_table(
    rows: Sequence[tuple[str, dict[str, float]]],
    *,
    bare_rps: float,
    title: str = "",
    ratio_digits: int = 2,
) -> None:
    if title:
        print(f"\n{title}\n")
    print("| workload | req/s | p50 ms | p99 ms | ratio to bare | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['rps']:.{0 if r['rps'] >= 10 else 1}f} | {r['p50']:.2f} | {r['p99']:.2f} "
            f"| {r['rps'] / bare_rps:.{ratio_digits}f} | {r['errors']:.0f} |"
        )
