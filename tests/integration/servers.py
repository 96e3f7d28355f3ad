"""Real servers for tests that need real sockets: a uvicorn thread, or `sitescim serve`.

Both wait for readiness against a deadline and always stop what they started.
A subprocess writes its output to a file, which is printed when a test using it
fails, so a crash in the server is visible in the test report.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.factories import GENEROUS_RATE_LIMITS

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
HOST = "127.0.0.1"


def bound_socket() -> socket.socket:
    """A listening-ready socket on a port the kernel chose (no race for it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def free_ports(count: int) -> list[int]:
    """Distinct ports that were free a moment ago, for processes that bind them themselves."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(contextlib.closing(bound_socket())) for _ in range(count)]
        return [int(sock.getsockname()[1]) for sock in socks]


@contextlib.contextmanager
def uvicorn_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server in a background thread; yield its base URL."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # SystemExit on a failed startup, too
            failure.append(error)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start: {failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn not started within {READY_TIMEOUT_SECONDS}s")
            time.sleep(0.02)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT_SECONDS)
        sock.close()
        assert not thread.is_alive(), "uvicorn thread did not stop"


@dataclass
class ServeProcess:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    output: Path

    def read_output(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


def sitescim_executable() -> Path:
    """The console script installed beside the interpreter running the tests."""
    path = Path(sys.executable).with_name("sitescim")
    assert path.exists(), f"console script not found at {path}"
    return path


def start_serve(
    port: int,
    args: Sequence[str],
    *,
    env: dict[str, str],
    workdir: Path,
    output: Path,
    own_session: bool = False,
) -> subprocess.Popen[bytes]:
    """``sitescim serve`` on HOST:``port`` with ``args``, its output written to ``output``.

    ``own_session`` starts it in a process group of its own, for tests that kill it.
    """
    with output.open("wb") as sink:
        return subprocess.Popen(
            [str(sitescim_executable()), "serve", "--host", HOST, "--port", str(port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
            start_new_session=own_session,
        )


def _wait_ready(server: ServeProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode} before it was "
                f"ready; its output is printed below"
            )
        try:
            response = httpx.get(f"{server.base_url}/readyz", timeout=1.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} not ready within {READY_TIMEOUT_SECONDS}s ({last}); "
        "its output is printed below"
    )


def _stop(server: ServeProcess) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(STOP_TIMEOUT_SECONDS)


@contextlib.contextmanager
def serve_processes(
    names: list[str], *, env: dict[str, str], workdir: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[dict[str, ServeProcess]]:
    """Start one ``sitescim serve`` per name, each on its own port; stop them all after.

    When the body fails, every server's output is printed so the report shows it.
    """
    servers: dict[str, ServeProcess] = {}
    failed = True
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("SITESCIM_")}
    full_env.update(GENEROUS_RATE_LIMITS)
    full_env.update(env)
    try:
        for name, port in zip(names, free_ports(len(names)), strict=True):
            output = workdir / f"serve-{name}.log"
            # One process a server, unless a test asks for more.
            process = start_serve(
                port, ["--workers", "1", *extra_args], env=full_env, workdir=workdir, output=output
            )
            servers[name] = ServeProcess(name, f"http://{HOST}:{port}", process, output)
        for server in servers.values():
            _wait_ready(server)
        yield servers
        failed = False
    finally:
        for server in servers.values():
            _stop(server)
        if failed:
            for server in servers.values():
                print(f"----- output of sitescim serve {server.name} -----")
                print(server.read_output())
