"""What authenticating a SCIM request costs, measured with wrk.

Starts each server as its own single-worker uvicorn process, seeds a site,
a Promaster and a token, drives each workload with wrk and prints requests/s,
p50, p99 and the ratio to a bare ASGI app measured in the same run.

    .venv/bin/python bench/auth_overhead.py [--duration 10] [--connections 16]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEPPER = "bench-pepper-" + "x" * 40
SESSION = "bench-session-" + "y" * 40


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
        "SITESCIM_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def cli(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [str(BIN / "sitescim"), *args, "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def seed(env: dict[str, str]) -> str:
    subprocess.run(
        [str(BIN / "sitescim"), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    slug = "bench-" + uuid.uuid4().hex[:8]
    cli(env, "site", "create", "Bench", "--slug", slug)
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
    return cli(env, "token", "create", "--site", slug, "--as", email, "--description", "bench")[
        "token"
    ]


@contextmanager
def server(target: str, env: dict[str, str], *, factory: bool) -> Iterator[str]:
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
        "httptools",
    ]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server {target} did not start: {process.stderr.read().decode()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, duration: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        latency[pct] = float(value) * UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SITESCIM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
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
    print("| workload | req/s | p50 ms | p99 ms | ratio to bare | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps'] / bare_rps:.2f} | {r['errors']:.0f} |"
        )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
