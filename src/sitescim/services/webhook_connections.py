"""Kept-alive HTTP connections for webhook delivery, on the standard library's http.client.

A delivery is one small POST, and the worker shares its core with the SCIM
requests: httpx spent 0.31 ms of CPU on each such POST where http.client spends
0.08 ms (bench/events_cost.py measures what delivery takes from SCIM writes).
http.client also does what delivery needs and nothing more: it never follows a
redirect, reads no proxy settings from the environment, and lets us connect to
the address that was checked while naming the URL's host for TLS (server name
and certificate check) and in ``Host``.

A connection belongs to one thread at a time: the pool keeps the idle ones per
(scheme, address, port, host), and a sending thread takes one out while it uses it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass

MAX_IDLE_PER_TARGET = 8
MAX_RESPONSE_BYTES = 64 * 1024
"""A receiver's answer is read (to reuse the connection) but never kept: a huge one is cut."""


@dataclass(frozen=True, slots=True)
class Destination:
    scheme: str
    address: str
    """Connected to: the address that passed the check."""
    port: int
    host: str
    """Named: in TLS (server name, certificate) and the ``Host`` header."""


class _Connection(http.client.HTTPConnection):
    """Plain HTTP to the checked address, with a connect and a read timeout of its own."""

    def __init__(self, destination: Destination, *, connect: float, read: float) -> None:
        super().__init__(destination.address, destination.port, timeout=connect)
        self.read_timeout = read

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(self.read_timeout)


class _TlsConnection(http.client.HTTPSConnection):
    """TLS to the checked address, under the URL's host name."""

    def __init__(
        self, destination: Destination, *, context: ssl.SSLContext, connect: float, read: float
    ) -> None:
        super().__init__(destination.address, destination.port, timeout=connect, context=context)
        self.server_name = destination.host
        self.tls = context
        self.read_timeout = read

    def connect(self) -> None:
        plain = socket.create_connection((self.host, self.port), self.timeout)
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self.tls.wrap_socket(plain, server_hostname=self.server_name)
        except BaseException:
            plain.close()
            raise
        self.sock.settimeout(self.read_timeout)


class ConnectionPool:
    def __init__(self, *, tls: ssl.SSLContext, connect_timeout: float, read_timeout: float) -> None:
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[Destination, list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()

    def post(
        self, destination: Destination, path: str, body: bytes, headers: dict[str, str]
    ) -> int:
        """POST and read the answer; its status. Raises OSError or http.client.HTTPException.

        A kept-alive connection the receiver closed meanwhile fails before anything
        was sent on it; that one case is tried once more on a new connection.
        """
        connection, reused = self._take(destination)
        try:
            try:
                status, reusable = self._exchange(connection, path, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if not reused:
                    raise
                connection, reused = self._open(destination), False
                status, reusable = self._exchange(connection, path, body, headers)
        except BaseException:
            connection.close()
            raise
        if reusable:
            self._give_back(destination, connection)
        else:
            connection.close()
        return status

    @staticmethod
    def _exchange(
        connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bool]:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        reusable = not response.will_close and response.isclosed()
        return response.status, reusable

    def _take(self, destination: Destination) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(destination)
            if idle:
                return idle.pop(), True
        return self._open(destination), False

    def _open(self, destination: Destination) -> http.client.HTTPConnection:
        if destination.scheme == "https":
            return _TlsConnection(
                destination,
                context=self.tls,
                connect=self.connect_timeout,
                read=self.read_timeout,
            )
        return _Connection(destination, connect=self.connect_timeout, read=self.read_timeout)

    def _give_back(self, destination: Destination, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle[destination]
            if len(idle) < MAX_IDLE_PER_TARGET:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            connections = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for connection in connections:
            connection.close()
