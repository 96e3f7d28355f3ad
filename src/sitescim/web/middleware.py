"""Plain ASGI middleware: request ids and access logs, security headers, body limits.

Written as raw ASGI rather than ``BaseHTTPMiddleware`` because it wraps every
SCIM request and must stay cheap.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sitescim import logs
from sitescim.logs import request_id
from sitescim.scim.schemas import ERROR_SCHEMA
from sitescim.web.metrics import observe_request

SCIM_PREFIX = "/scim/v2/"
_random_bits = random.getrandbits
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
# The web UI's pages load only their own script and styles: no inline code, no
# other origin, forms post only here. The API docs page keeps the plain header
# (Swagger UI loads from a CDN); machine endpoints need no more than it.
UI_CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
UI_SECURITY_HEADERS = [
    (name, UI_CONTENT_SECURITY_POLICY if name == b"content-security-policy" else value)
    for name, value in SECURITY_HEADERS
]
_PLAIN_PREFIXES = ("/scim/", "/api/")


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    return SECURITY_HEADERS if path.startswith(_PLAIN_PREFIXES) else UI_SECURITY_HEADERS


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def without_scim_trailing_slash(scope: Scope) -> Scope:
    """``/scim/v2/Users/`` routes as ``/scim/v2/Users``: clients (OneLogin) send both.

    A rewrite, not a redirect: a client that POSTs to the slashed URL would
    not follow a redirect with its body.
    """
    path: str = scope["path"]
    if not path.startswith(SCIM_PREFIX) or not path.endswith("/"):
        return scope
    trimmed = path.rstrip("/")
    if len(trimmed) <= len(SCIM_PREFIX.rstrip("/")):  # the root itself: the mount takes it
        return scope
    raw: bytes = scope.get("raw_path") or path.encode()
    return {**scope, "path": trimmed, "raw_path": raw.rstrip(b"/")}


NUL_DETAIL = "The request URL must not contain NUL characters."


def holds_nul(scope: Scope) -> bool:
    """A NUL in the path or query: no database stores it, no identifier holds it."""
    return "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")


async def send_error(
    scope: Scope, send: Send, status: int, detail: str, *, scim_type: str | None = None
) -> None:
    """A SCIM Error under /scim/, else the API's ``{"detail"}``, before any routing."""
    body: dict[str, Any]
    if scope["path"].startswith("/scim/"):
        media = b"application/scim+json"
        body = {"schemas": [ERROR_SCHEMA], "status": str(status)}
        if scim_type is not None:
            body["scimType"] = scim_type
        body["detail"] = detail
    else:
        media = b"application/json"
        body = {"detail": detail}
    payload = json.dumps(body).encode()
    headers = [(b"content-type", media), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def request_id_for(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is safe to echo and log, else a new one.

    A new id need be unique, not secret (a client may send its own): 128 random
    bits from ``random``, which cost a fifth of ``os.urandom``'s system call.
    ``random`` is reseeded in every forked worker, so workers draw apart.
    """
    return request_id_from(_header(scope, b"x-request-id"))


def request_id_from(incoming: str | None) -> str:
    """``request_id_for`` of a request whose ``X-Request-ID`` (or None) is read already."""
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return f"{_random_bits(128):032x}"


def with_response_headers(message: Message, rid: str, path: str) -> Message:
    """A response start with the request id and security headers, and ``Connection:
    close`` on a 5xx: the server closes the connection after one, and saying so lets a
    kept-alive client retry on a new one instead of failing twice."""
    headers = list(message.get("headers", []))
    headers.append((b"x-request-id", rid.encode()))
    headers.extend(security_headers(path))
    if message["status"] >= 500:
        headers.append((b"connection", b"close"))
    return {**message, "headers": headers}


def access_line(scope: Scope, status: int, seconds: float) -> None:
    """The request's access log line (logs.log_request)."""
    client = scope.get("client")
    logs.log_request(
        scope["method"],
        scope["path"],
        status,
        round(seconds * 1000, 2),
        client[0] if client else None,
    )


class RequestContextMiddleware:
    """Request id, security headers, NUL refusal, metrics and the access log of every
    request the SCIM lane (web/scim/lane.py) does not take, which does the same."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = without_scim_trailing_slash(scope)
        rid = request_id_for(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = with_response_headers(message, rid, scope["path"])
            await send(message)

        try:
            if holds_nul(scope):
                await send_error(scope, send_with_headers, 400, NUL_DETAIL)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            observe_request(scope, status, seconds)
            access_line(scope, status, seconds)
            request_id.reset(token)


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The limit of one path, and what a client that goes over it is told."""

    max_bytes: int
    detail: str


class BodyLimits:
    """Request body limits: one for every path, and ``path_limits`` replacing it on some
    (POST /Bulk has its own, declared as maxPayloadSize); paths compare without case or
    a trailing slash. Shared by the middleware and the SCIM lane."""

    def __init__(self, max_bytes: int, path_limits: Mapping[str, BodyLimit] | None = None) -> None:
        self.general = BodyLimit(max_bytes, f"The request body is larger than {max_bytes} bytes.")
        self.path_limits = {
            path.rstrip("/").lower(): limit for path, limit in (path_limits or {}).items()
        }

    def limit_for(self, path: str) -> BodyLimit:
        if not self.path_limits:
            return self.general
        return self.path_limits.get(path.rstrip("/").lower(), self.general)

    @staticmethod
    def declared_over(scope: Scope, limit: BodyLimit) -> bool:
        """A Content-Length over the limit (or not a number): refused before any read."""
        return BodyLimits.declares_over(_header(scope, b"content-length"), limit)

    @staticmethod
    def declares_over(declared: str | None, limit: BodyLimit) -> bool:
        """``declared_over`` of a Content-Length (or None) read already."""
        return declared is not None and (not declared.isdigit() or int(declared) > limit.max_bytes)

    @staticmethod
    def limited(receive: Receive, limit: BodyLimit) -> Receive:
        """``receive``, raising 413 (an HTTPException) once the body goes over the limit."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise _BodyTooLargeError(limit.detail)
            return message

        return limited_receive

    @staticmethod
    async def refuse(scope: Scope, send: Send, limit: BodyLimit) -> None:
        detail = limit.detail
        body: dict[str, Any]
        if scope["path"].startswith("/scim/"):
            media = b"application/scim+json"
            body = {
                "schemas": [ERROR_SCHEMA],
                "status": "413",
                "scimType": "tooLarge",
                "detail": detail,
            }
        else:
            media = b"application/json"
            body = {"detail": detail}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """Refuse bodies over the limit before anything reads them whole (413)."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.limit_for(scope["path"])
        if self.limits.declared_over(scope, limit):
            await self.limits.refuse(scope, send, limit)
            return
        try:
            await self.app(scope, self.limits.limited(receive, limit), send)
        except _BodyTooLargeError:
            await self.limits.refuse(scope, send, limit)


class _BodyTooLargeError(HTTPException):
    """An HTTPException, or FastAPI's body parsing would turn it into a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)
