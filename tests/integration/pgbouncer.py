"""A PgBouncer of the test's own (Debian's ``pgbouncer``), in transaction pooling.

It gets its own port, configuration and log in a temporary directory, and is
stopped by its pid; the machine's PostgreSQL and any other pgbouncer are left
alone. PgBouncer refuses to run as root, so under root it switches to the
``postgres`` user (``-u``), which then owns the directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.integration.servers import HOST, free_ports

PGBOUNCER = "/usr/sbin/pgbouncer"
START_TIMEOUT_SECONDS = 15.0
RUN_AS = "postgres"
QUERY_WAIT_TIMEOUT_SECONDS = 1


@dataclass
class PgBouncer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def admin(self, command: str) -> list[list[str]]:
        """Rows of an admin console command (``SHOW POOLS``), through psql."""
        done = subprocess.run(
            ["psql", "-h", HOST, "-p", str(self.port), "-U", "postgres", "-d", "pgbouncer",
             "-A", "-F", "\t", "-c", command],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        rows = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
        return rows

    def pause(self, *, settle_seconds: float = 15.0) -> None:
        """``PAUSE``, once no server connection is in a transaction: PAUSE waits for
        every one to be released, and the app's start-up upkeep (statistics, stored
        documents) may still hold one on a loaded machine. If PAUSE still does not
        return, the error shows what held PgBouncer's server connections."""
        deadline = time.monotonic() + settle_seconds
        while time.monotonic() < deadline and self._servers_active():
            time.sleep(0.05)
        try:
            self.admin("PAUSE")
        except subprocess.TimeoutExpired:
            held = {command: self.admin(command) for command in ("SHOW SERVERS", "SHOW CLIENTS")}
            raise AssertionError(f"PAUSE did not return: {held}") from None

    def _servers_active(self) -> bool:
        header, *rows = self.admin("SHOW POOLS")
        at = header.index("sv_active")
        return any(int(row[at]) for row in rows if row[0] != "pgbouncer")


def available() -> bool:
    return Path(PGBOUNCER).exists() and shutil.which("psql") is not None


def _config(port: int, directory: Path, upstream: tuple[str, int]) -> str:
    host, upstream_port = upstream
    return f"""
[databases]
* = host={host} port={upstream_port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
query_wait_timeout = {QUERY_WAIT_TIMEOUT_SECONDS}
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""


@contextlib.contextmanager
def pgbouncer(upstream: tuple[str, int]) -> Iterator[PgBouncer]:
    directory = Path(tempfile.mkdtemp(prefix="sitescim-pgbouncer-"))
    (port,) = free_ports(1)
    (directory / "pgbouncer.ini").write_text(_config(port, directory, upstream))
    (directory / "userlist.txt").write_text('"postgres" ""\n')
    command = [PGBOUNCER, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        for path in (directory, *directory.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        command[1:1] = ["-u", RUN_AS]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    bouncer = PgBouncer(port, directory, process)
    try:
        _wait_listening(bouncer)
        yield bouncer
    finally:
        process.terminate()
        try:
            process.wait(START_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(START_TIMEOUT_SECONDS)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_listening(bouncer: PgBouncer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if bouncer.process.poll() is not None:
            raise RuntimeError(
                f"pgbouncer exited with {bouncer.process.returncode}:\n{bouncer.log()}"
            )
        with contextlib.suppress(OSError), socket.create_connection((HOST, bouncer.port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer not listening within {START_TIMEOUT_SECONDS}s:\n{bouncer.log()}")
