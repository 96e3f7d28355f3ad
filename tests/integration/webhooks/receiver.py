"""A real HTTP receiver for webhook tests: a threaded ``http.server`` on 127.0.0.1
that verifies every request's signature with ``standardwebhooks`` and answers
what the test says (500 during an outage, a redirect, ...)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Received:
    webhook_id: str
    path: str
    body: bytes
    payload: dict[str, Any] | None
    """None when the signature did not verify."""
    answered: int

    @property
    def site(self) -> str:
        assert self.payload is not None
        site: str = self.payload["data"]["site"]["slug"]
        return site


@dataclass
class Receiver:
    url: str = ""
    secret: str | None = None
    answer: Callable[[str], int] = lambda _path: 204
    requests: list[Received] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in the order they arrived."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def unverified(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.payload is None]

    local: threading.local = field(default_factory=threading.local)

    def current_id(self) -> str:
        """The webhook-id of the request this thread is answering (for ``answer``)."""
        webhook_id: str = self.local.webhook_id
        return webhook_id

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        if len(body) < length:
            handler.close_connection = True  # cut off mid-body (a sender killed): no request
            return
        headers = {key.lower(): value for key, value in handler.headers.items()}
        self.local.webhook_id = headers.get("webhook-id", "")
        payload: dict[str, Any] | None = None
        if self.secret is not None:
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                payload = None
        status = self.answer(handler.path)
        with self.lock:
            self.requests.append(
                Received(headers.get("webhook-id", ""), handler.path, body, payload, status)
            )
            self.headers.append(headers)
        handler.send_response(status)
        if 300 <= status < 400:
            handler.send_header("location", f"{self.url}/elsewhere")
        handler.send_header("content-length", "0")
        handler.end_headers()


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the sender's client expects

        def do_POST(self) -> None:
            receiver._handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def event_ids_by_site(received: list[Received]) -> dict[str, list[str]]:
    """Each site's event ids in arrival order, a repeat (a redelivery) kept once."""
    seen: set[str] = set()
    by_site: dict[str, list[str]] = {}
    for request in received:
        if request.webhook_id in seen:
            continue
        seen.add(request.webhook_id)
        by_site.setdefault(request.site, []).append(request.webhook_id)
    return by_site


def as_json(received: Received) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(received.body)
    return loaded
