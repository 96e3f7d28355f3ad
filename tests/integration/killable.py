"""`sitescim serve` in a process group of its own, to be killed with SIGKILL and restarted.

Also what a test needs around it: the CLI with ``--json`` for set-up, the
server's worker processes, and which of them holds a given client connection
(read from /proc, so nothing about the process is ever told to clients).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from tests.factories import (
    GENEROUS_RATE_LIMITS,
    TEST_PEPPER,
    TEST_SESSION_SECRET,
    make_settings,
    make_site,
    make_token,
    make_user,
)
from tests.integration.servers import (
    HOST,
    READY_TIMEOUT_SECONDS,
    free_ports,
    start_serve,
)

STOP_TIMEOUT_SECONDS = 15.0
PASSWORD = "correct horse battery staple"
SCIM = "application/scim+json"


def service_env(database_url: str) -> dict[str, str]:
    """The environment of the CLI and of the server: shared secrets, cheap password hashes.

    Without ``serve``'s webhook delivery process, a second interpreter (several seconds
    of CPU a start) that these tests do not use; the tests of delivery turn it on.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITESCIM_")}
    env.update(
        {
            "SITESCIM_DATABASE_URL": database_url,
            "SITESCIM_TOKEN_PEPPER": TEST_PEPPER,
            "SITESCIM_SESSION_SECRET": TEST_SESSION_SECRET,
            "SITESCIM_ARGON2_TIME_COST": "1",
            "SITESCIM_ARGON2_MEMORY_KIB": "1024",
            "SITESCIM_LOG_LEVEL": "WARNING",
            "SITESCIM_WORKER": "false",
            **GENEROUS_RATE_LIMITS,
        }
    )
    return env


@contextlib.contextmanager
def operator_runtime(env: dict[str, str]) -> Iterator[Runtime]:
    """The services on the server's database, with its secrets, in this process.

    Set-up goes through them rather than the CLI: each ``sitescim`` command is a
    new interpreter importing the whole application (3 to 4 s of CPU on these
    machines), and the commands have tests of their own (tests/integration/cli).
    """
    settings = make_settings(env["SITESCIM_DATABASE_URL"])
    database = Database(make_engine(settings.database_url))
    try:
        yield Runtime.from_settings(settings, database)
    finally:
        database.dispose()


def site_token(env: dict[str, str], slug: str = "durable") -> str:
    """A site, its Promaster and a SCIM token, made through the services."""
    promaster = f"admin@{slug}.example.com"
    with operator_runtime(env) as runtime:
        make_site(runtime, "Durable", slug=slug)
        make_user(runtime, slug, promaster, "promaster", PASSWORD)
        return make_token(runtime, slug, promaster, description="durability test").value


@dataclass
class KillableServer:
    """One ``sitescim serve``, leader of its own process group (its workers are in it)."""

    env: dict[str, str]
    workdir: Path
    args: tuple[str, ...] = ()
    starts: int = 0
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    outputs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        (port,) = free_ports(1)
        self.starts += 1
        output = self.workdir / f"serve-{self.starts}.log"
        self.outputs.append(output)
        self.process = start_serve(
            port, self.args, env=self.env, workdir=self.workdir, output=output, own_session=True
        )
        self.base_url = f"http://{HOST}:{port}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"serve not ready within {READY_TIMEOUT_SECONDS}s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown handler, no flush, no goodbye."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_SECONDS)
        self._wait_group_gone(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._wait_group_gone(self.process.pid)

    @staticmethod
    def _wait_group_gone(group: int) -> None:
        """Workers outlive their parent by a moment; their locks go with them."""
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"process group {group} still alive")

    def workers(self) -> set[int]:
        """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
        assert self.process is not None
        found = set()
        for pid in _children(self.process.pid):
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(pid)
        return found

    def output(self) -> str:
        return "\n".join(
            f"----- {path.name} -----\n{path.read_text(errors='replace')}"
            for path in self.outputs
            if path.exists()
        )


@contextlib.contextmanager
def killable_server(env: dict[str, str], workdir: Path, *args: str) -> Iterator[KillableServer]:
    """Start a server; stop whatever is left of it after, printing its output on failure."""
    server = KillableServer(env, workdir, args)
    failed = True
    try:
        server.start()
        yield server
        failed = False
    finally:
        server.stop()
        if failed:
            print(server.output())


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            ppid = next(line for line in status.splitlines() if line.startswith("PPid:"))
            if int(ppid.split()[1]) == parent:
                found.append(int(entry.name))
    return found


def serving_pid(server_port: int, client_port: int, candidates: set[int]) -> int | None:
    """Which process holds the server side of the loopback connection from ``client_port``."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in candidates:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


def user_payload(user_name: str, display_name: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": display_name,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
    }
