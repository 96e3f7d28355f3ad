"""The HTTP protocol ``sitescim serve`` runs: uvicorn's httptools one, with limits.

uvicorn's httptools protocol bounds neither the size nor the number of a
request's headers, and never times out a client that is still sending them (or
that connected and sent nothing): a 1 MiB header and 5,000 headers were
served, 4 connections each holding an unfinished 25 MiB header took 150 MiB,
and 20 clients trickling a header line every 3 s were held as long as they
liked. Its h11 protocol bounds the size but is pure Python, and has no header
timeout either. So the httptools protocol is kept, with three limits on the
request head (request line and headers): its size, its number of headers, and
the time a client may take to send it. A head over either bound gets 431 and
the connection is closed; one not complete in time gets 408 (or, if nothing
was sent at all, just the close). Bodies are bounded by BodyLimitMiddleware.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sitescim.settings import Settings

PROTOCOL = "sitescim.web.server:LimitedHttpToolsProtocol"
"""For ``uvicorn.run(http=...)``: an import string, so worker processes load it too."""


class _TooManyHeadersError(Exception):
    pass


def _response(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text
    )


TOO_LARGE = _response(b"431 Request Header Fields Too Large", b"Request header fields too large.")
TOO_SLOW = _response(b"408 Request Timeout", b"The request headers took too long.")


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: ClassVar[int] = 32 * 1024
    max_headers: ClassVar[int] = 100
    head_timeout_seconds: ClassVar[float] = 10.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        """Take the limits from settings; called in each process before uvicorn starts."""
        cls.max_head_bytes = settings.http_max_header_bytes
        cls.max_headers = settings.http_max_headers
        cls.head_timeout_seconds = settings.http_header_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = True
        self._head_bytes = 0
        self._head_count = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        super().data_received(data)
        # Counted after parsing: a chunk that completes the head may carry body bytes.
        if self._head_open and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0
        self._head_count = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_count += 1
        if self._head_count > self.max_headers:
            raise _TooManyHeadersError  # httptools stops; uvicorn calls send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._head_count > self.max_headers:
            self._refuse(TOO_LARGE)
            return
        super().send_400_response(msg)

    def _refuse(self, response: bytes) -> None:
        self._cancel_head_timer()
        self.transport.write(response)
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._head_open or self.transport.is_closing():
            return
        if self._head_bytes or self._head_count:
            self.transport.write(TOO_SLOW)
        self.transport.close()
