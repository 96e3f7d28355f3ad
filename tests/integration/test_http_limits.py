"""HTTP limits of ``sitescim serve``, tried with raw sockets against a real server process.

The server runs with a 2 s header timeout and a 1 s keep-alive so the test is
quick; the size and count limits are the defaults (32 KiB, 100 headers).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.killable import service_env
from tests.integration.servers import ServeProcess, serve_processes

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 2.0
KEEP_ALIVE = 1.0
CHUNK = 8 * 1024
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    workdir: Path = tmp_path_factory.mktemp("limits")
    env = service_env(f"sqlite:///{workdir / 'sitescim.db'}")
    env["SITESCIM_HTTP_HEADER_TIMEOUT_SECONDS"] = str(HEAD_TIMEOUT)
    env["SITESCIM_HTTP_KEEP_ALIVE_SECONDS"] = str(int(KEEP_ALIVE))
    with serve_processes(["limits"], env=env, workdir=workdir) as servers:
        yield servers["limits"]


def _connect(server: ServeProcess) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def _send_until_answered(sock: socket.socket, payload: bytes) -> tuple[bytes, int]:
    """Send in small chunks, stopping as soon as the server answers; return the answer
    and how many bytes were sent (a refused head is cut off early)."""
    sent = 0
    for start in range(0, len(payload), CHUNK):
        try:
            sock.sendall(payload[start : start + CHUNK])
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += CHUNK
        readable, _, _ = select.select([sock], [], [], 0.02)
        if readable:
            break
    return _answer(sock), sent


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_one_mib_header_gets_431_and_is_not_read_whole(server: ServeProcess) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * MiB + b"\r\n\r\n"
    with _connect(server) as sock:
        answer, sent = _send_until_answered(sock, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert sent < 256 * 1024


def test_five_thousand_headers_get_431(server: ServeProcess) -> None:
    lines = b"".join(b"X-H-%d: v\r\n" % n for n in range(5000))
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + b"\r\n"
    with _connect(server) as sock:
        answer, _sent = _send_until_answered(sock, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_ordinary_requests_within_the_limits_are_served(server: ServeProcess) -> None:
    headers = {f"X-Trace-{n}": "v" * 40 for n in range(80)}
    headers["Cookie"] = "c=" + "x" * 8000
    assert httpx.get(f"{server.base_url}/healthz", headers=headers).status_code == 200
    # A body arriving with the head in one chunk is not counted as head.
    big = {"site": "x", "email": "a@example.com", "password": "p" * 900_000}
    response = httpx.post(f"{server.base_url}/api/v1/session", json=big, timeout=30)
    assert response.status_code not in (408, 431, 500), response.text


def test_a_client_trickling_its_headers_is_cut_after_the_header_timeout(
    server: ServeProcess,
) -> None:
    results: list[tuple[float, bytes]] = []

    def trickle() -> None:
        with _connect(server) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            answer = b""
            for n in range(40):
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable:
                    answer = _answer(sock)
                    break
                try:
                    sock.sendall(b"X-Line-%d: v\r\n" % n)
                except (BrokenPipeError, ConnectionResetError):
                    break
            results.append((time.monotonic() - started, answer))

    threads = [threading.Thread(target=trickle) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 20
    for held, answer in results:
        assert HEAD_TIMEOUT - 0.1 <= held < HEAD_TIMEOUT + 2.0, held
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_silent_connection_is_closed_after_the_header_timeout(server: ServeProcess) -> None:
    with _connect(server) as sock:
        started = time.monotonic()
        answer = _answer(sock, timeout=HEAD_TIMEOUT + 10)
        held = time.monotonic() - started
    assert answer == b""
    assert HEAD_TIMEOUT - 0.1 <= held < HEAD_TIMEOUT + 2.0, held


def test_an_idle_keep_alive_connection_is_closed(server: ServeProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        answer = _answer(sock, timeout=KEEP_ALIVE + 10)
        held = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert held < KEEP_ALIVE + 2.0, held


def test_unfinished_huge_headers_do_not_grow_memory(server: ServeProcess) -> None:
    before = _rss_kib(server.process.pid)
    sent: list[int] = []

    def hold_a_huge_header() -> None:
        with _connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
            total = 0
            block = b"a" * 65536
            try:
                while total < 25 * MiB:
                    sock.sendall(block)
                    total += len(block)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
            sent.append(total)

    threads = [threading.Thread(target=hold_a_huge_header) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown_mib = (_rss_kib(server.process.pid) - before) / 1024
    print(f"server memory grew {grown_mib:.1f} MiB; clients got {sent} bytes in before the cut")
    assert all(total < 25 * MiB for total in sent), sent
    assert grown_mib < 16
