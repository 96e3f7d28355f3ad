"""The SCIM lane: requests under /scim/v2/ served as plain ASGI, ahead of FastAPI's stack.

A GET by id spent more in the layers around it (FastAPI's error and exception
middleware, three middleware of ours, a Mount and a regular expression per route)
than in its database work (issue 9). The lane does what those layers did for a
SCIM request, once and in the same order, and then calls the handler:

1. as ``ServerErrorMiddleware``: an unexpected error is answered with
   web/errors.py's 500 (``Connection: close``) and raised on to the server;
2. as web/hosts.py, web/middleware.py: the Host check, the trailing-slash
   rewrite, the request id, NUL refusal, security headers (``Connection: close``
   on a 5xx), metrics by route template and the access log, body limits;
3. as ``ExceptionMiddleware``: any error with a handler in web/errors.py (found
   by its class, as Starlette finds it) becomes that handler's response;
4. as the routes: a method no route takes is 405 before authentication; then
   the token is checked, and the route's handler runs under the request's
   scim2-models policy (compat.request_policy), or its 405 or the SCIM 404.

Requests the lane does not take (a ``root_path`` set by a proxy, a newline in
the path, which Starlette's patterns treat apart) go through the FastAPI stack,
where the same routes are mounted: every answer is the one it was before.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from sitescim.logs import request_id
from sitescim.scim import compat
from sitescim.web import metrics
from sitescim.web.hosts import AllowedHosts
from sitescim.web.middleware import (
    NUL_DETAIL,
    SCIM_PREFIX,
    BodyLimits,
    access_line,
    holds_nul,
    request_id_from,
    send_error,
    with_response_headers,
    without_scim_trailing_slash,
)
from sitescim.web.scim.context import HEADERS_SCOPE_KEY, authenticate, read_headers
from sitescim.web.scim.routes import (
    NOT_FOUND_TEMPLATE,
    ROUTED_METHODS,
    ROUTES,
    SCIM_MOUNT,
    RouteTable,
    not_found,
)

ExceptionHandler = Callable[[Request, Exception], Any]
_ALLOW_ANY = ", ".join(ROUTED_METHODS)
UNPOLICED_METHODS = frozenset({"GET"})
"""Methods whose handlers validate and patch nothing, so need no scim2-models policy."""
_NO_HANDLER = object()


def takes(scope: Scope) -> bool:
    """Whether the lane serves this request (else the FastAPI stack does)."""
    if scope["type"] != "http" or scope.get("root_path"):
        return False
    path: str = scope["path"]
    return path.startswith(SCIM_PREFIX) and "\n" not in path


class _Exchange:
    """What the envelope learns while the request is served."""

    __slots__ = ("started", "status", "template")

    def __init__(self) -> None:
        self.status = 500
        self.started = False
        self.template = metrics.UNMATCHED


class ScimLane:
    def __init__(
        self,
        *,
        hosts: AllowedHosts,
        body_limits: BodyLimits,
        exception_handlers: Mapping[Any, ExceptionHandler],
        on_unexpected: Callable[[Request, Exception], Awaitable[Response]],
    ) -> None:
        self._hosts = hosts
        self._body_limits = body_limits
        self._exception_handlers = exception_handlers
        self._on_unexpected = on_unexpected
        self._handler_by_type: dict[type, Any] = {}
        self._routes = RouteTable(ROUTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The server-error layer: what nothing else answered is a 500, then raised."""
        exchange = _Exchange()
        try:
            await self._envelope(scope, receive, send, exchange)
        except Exception as error:
            if not exchange.started:
                response = await self._on_unexpected(Request(scope, receive), error)
                await response(scope, receive, send)
            raise

    async def _envelope(
        self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange
    ) -> None:
        scope = without_scim_trailing_slash(self._hosts.checked(scope))
        path: str = scope["path"]
        headers = scope[HEADERS_SCOPE_KEY] = read_headers(scope)
        rid = request_id_from(headers.get(b"x-request-id"))
        token = request_id.set(rid)
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.started = True
                message = with_response_headers(message, rid, path)
            await send(message)

        try:
            if holds_nul(scope):
                await send_error(scope, send_with_headers, 400, NUL_DETAIL)
                return
            limits = self._body_limits
            limit = limits.limit_for(path)
            if limits.declares_over(headers.get(b"content-length"), limit):
                await limits.refuse(scope, send_with_headers, limit)
                return
            await self._serve(scope, limits.limited(receive, limit), send_with_headers, exchange)
        finally:
            seconds = time.perf_counter() - started
            site = scope.get(metrics.SITE_SCOPE_KEY, metrics.NO_SITE)
            metrics.observe(exchange.template, scope["method"], exchange.status, site, seconds)
            access_line(scope, exchange.status, seconds)
            request_id.reset(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        """The exception layer around the routes."""
        request = Request(scope, receive)
        try:
            response = await self._route(request, exchange)
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None or exchange.started:
                raise
            answer = handler(request, error)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    async def _route(self, request: Request, exchange: _Exchange) -> Response:
        scope = request.scope
        rest: str = scope["path"][len(SCIM_MOUNT) :]
        found = self._routes.find(rest)
        exchange.template = NOT_FOUND_TEMPLATE if found is None else found[0].template
        method: str = scope["method"]
        if method not in ROUTED_METHODS:
            raise HTTPException(status_code=405, headers={"Allow": _ALLOW_ANY})
        if found is None:
            await authenticate(request)
            raise not_found(rest)
        route, resource_id = found
        user_id = route.user_read_with_token(method, resource_id)
        lookup = route.lookup_with_token(method, scope)
        scim = await authenticate(request, resource_id, user_id=user_id, lookup=lookup)
        handler = route.handlers.get(method, route.refuse)
        if method in UNPOLICED_METHODS:
            return await handler(scim)
        with compat.request_policy(strict=scim.settings.scim_strict):
            return await handler(scim)

    def _handler_for(self, error: Exception) -> ExceptionHandler | None:
        """The handler of web/errors.py for ``error``'s class or its nearest base, as
        Starlette's ExceptionMiddleware finds it; ``Exception`` itself is the server
        error layer's (``on_unexpected``)."""
        kind = type(error)
        found = self._handler_by_type.get(kind, _NO_HANDLER)
        if found is _NO_HANDLER:
            handlers = self._exception_handlers
            found = next(
                (
                    handlers[base]
                    for base in kind.__mro__
                    if base is not Exception and base in handlers
                ),
                None,
            )
            self._handler_by_type[kind] = found
        return found  # type: ignore[no-any-return]
