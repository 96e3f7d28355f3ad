"""One SCIM request, resolved once: the token, the site, the base URL, the client,
the preconditions and the attribute selection (habit 5).

SCIM handlers are plain Starlette endpoints taking this one object: FastAPI's
dependency injection cost more per request than the database work of a GET
(issue 9), and the SCIM API needs none of its OpenAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote_plus

import anyio
import anyio.to_thread
import orjson
from scim2_models import Context, InvalidSyntaxException
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from sitescim.db.reads import Reads, UsersWhere
from sitescim.db.records import UserSnapshot
from sitescim.domain import documents
from sitescim.domain.errors import InvalidInputError
from sitescim.scim import compat, etags
from sitescim.scim.listing import ListQuery
from sitescim.scim.mapping import narrow_document
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from sitescim.settings import Settings
from sitescim.web.deps import MAX_ADDRESS_LENGTH
from sitescim.web.metrics import SITE_SCOPE_KEY, count_token_check
from sitescim.web.ratelimits import RateLimits
from sitescim.web.responses import resource_response
from sitescim.web.write_turns import ShortWrite, WriteTurns, write_here, write_pooled

P = ParamSpec("P")
T = TypeVar("T")

SCIM_BODY_TYPES = ("application/scim+json", "application/json")


_BASE_URLS: dict[tuple[str, str | None, str], str] = {}
_BASE_URLS_KEPT = 64


def scim_base_url(request: Request, public_base_url: str | None) -> str:
    """Absolute base for meta.location: the configured public URL, else the request's."""
    return _base_url(request, public_base_url, request.headers.get("host"))


def _base_url(request: Request, public_base_url: str | None, host: str | None) -> str:
    if public_base_url:
        return public_base_url.rstrip("/") + "/scim/v2"
    return _request_base_url(request, host)


def _request_base_url(request: Request, host: str | None) -> str:
    """The request's base for meta.location, ``host`` its Host header.

    Building it from the request (Starlette's ``base_url``) cost a tenth of a
    GET; the few a deployment sees are kept, a bounded number of them.
    """
    scope = request.scope
    key = (
        str(scope.get("scheme", "http")),
        host,
        str(scope.get("app_root_path", scope.get("root_path", ""))),
    )
    found = _BASE_URLS.get(key)
    if found is None:
        found = str(request.base_url).rstrip("/") + "/scim/v2"
        if len(_BASE_URLS) < _BASE_URLS_KEPT:
            _BASE_URLS[key] = found
    return found


def bearer_value(request: Request) -> str | None:
    return bearer_of(request.headers.get("authorization"))


def bearer_of(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header's value, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


INLINE_BODY_BYTES = 64 * 1024
"""Bodies up to this size are read on the event loop; larger ones (Bulk requests,
whose rewriting walks every member) in a worker thread, so other requests go on."""


_READ_HEADERS = frozenset(
    (
        b"authorization",
        b"host",
        b"if-match",
        b"if-none-match",
        b"x-request-id",
        b"content-length",
        b"content-type",
    )
)
HEADERS_SCOPE_KEY = "sitescim.headers"
"""Where the SCIM lane keeps ``read_headers`` of its request, read once for every layer."""


def read_headers(scope: Scope) -> dict[bytes, str]:
    """The few request headers the lane reads, in one pass over the raw list: the
    first of each, as Starlette's ``Headers.get`` finds it, without building it."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _READ_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found


@dataclass(slots=True)
class ScimRequest:
    request: Request
    token: AuthenticatedToken
    runtime: Runtime
    reads: Reads
    settings: Settings
    base_url: str
    address: str | None
    resource_id: str | None = None
    user_read: bool = False
    """Whether the token's statement read the user of ``resource_id`` (``user_with_token``:
    None when the site has no such user)."""
    user_with_token: UserSnapshot | None = None
    headers: dict[bytes, str] | None = None
    """``read_headers`` of the request; None: read them through ``request.headers``."""
    list_query: ListQuery | None = None
    """A list of users that is a lookup (``scim.lookups.lookup_in``), parsed already."""
    users_with_token: list[UserSnapshot] | None = None
    """The users of ``list_query``'s lookup, read by the token's statement."""

    @property
    def id(self) -> str:
        """The resource id of ``/Users/{id}`` or ``/Groups/{id}``."""
        if self.resource_id is None:
            raise LookupError("this route has no resource id")
        return self.resource_id

    @property
    def if_match(self) -> str | None:
        return self._header(b"if-match")

    @property
    def if_none_match(self) -> str | None:
        return self._header(b"if-none-match")

    @property
    def attributes(self) -> str | None:
        return self._query("attributes")

    @property
    def excluded_attributes(self) -> str | None:
        return self._query("excludedAttributes")

    def _header(self, name: bytes) -> str | None:
        """A request header the lane read once (``read_headers``), else Starlette's."""
        if self.headers is None:
            return self.request.headers.get(name.decode("latin-1"))
        return self.headers.get(name)

    def query_params(self) -> Mapping[str, str]:
        """The query's parameters, as Starlette's ``query_params`` reads them.

        A query of one parameter (the ``filter=userName eq "…"`` identity providers
        send before each create) is read without building Starlette's multidict,
        which cost a tenth of the lookup."""
        return query_parameters(self.request.scope)

    def _query(self, name: str) -> str | None:
        """A query parameter; without a query string, no parsing at all (a GET by id)."""
        request = self.request
        if not request.scope.get("query_string"):
            return None
        return request.query_params.get(name)

    async def body(self) -> dict[str, Any]:
        """A JSON object in SCIM or plain JSON media type, else 400 invalidSyntax.

        Identity-provider quirks are rewritten into RFC form here, once for
        every SCIM route (scim.compat), unless the service runs in strict mode.
        """
        request = self.request
        media = (self._header(b"content-type") or "").split(";", 1)[0].strip().lower()
        if media and media not in SCIM_BODY_TYPES:
            raise InvalidSyntaxException(
                detail="Send the body as application/scim+json (or application/json)."
            )
        raw = await request.body()
        if len(raw) > INLINE_BODY_BYTES:  # a large Bulk: read it off the event loop
            return await run_in_threadpool(self._parse, raw)
        return self._parse(raw)

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidSyntaxException(detail="The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidSyntaxException(detail="The request body must be a JSON object.")
        try:
            documents.check_document(body, raw=raw)
        except InvalidInputError as error:
            raise InvalidSyntaxException(detail=str(error)) from None
        scope = self.request.scope
        below = scope["path"].partition("/scim/v2")[2]
        return compat.normalise(
            body,
            method=scope["method"],
            path=below,
            base_url=self.base_url,
            strict=self.settings.scim_strict,
        )

    async def write(
        self,
        use_case: Callable[Concatenate[Session, Runtime, AuthenticatedToken, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a use case, as this request's token, in its own write transaction in a
        worker thread: ``use_case(session, runtime, token, *args, **kwargs)``.

        On SQLite writes run one at a time anyway (one write lock): they wait
        for their turn here, on the event loop, instead of as threads that take
        the interpreter from the one holding the lock, and the turn goes round
        the sites (web.write_turns). A ``ShortWrite`` runs on the event loop
        instead when the lock is free at once (db.short_writes); on PostgreSQL
        in a lighter transaction (``db.short_writes.pooled_transaction``).
        """
        acting = partial(use_case, **kwargs)
        call = (self.runtime, self.token, *args)
        work = partial(self._in_transaction, True, acting, call)
        turns: WriteTurns | None = self.request.app.state.write_turns
        if turns is None:
            if isinstance(use_case, ShortWrite):
                work = partial(write_pooled, self.runtime.db, acting, call)
            return await anyio.to_thread.run_sync(work)
        if not isinstance(use_case, ShortWrite):
            async with turns.turn(self.token.site_id):
                return await anyio.to_thread.run_sync(work)
        here = partial(write_here, self.runtime.db, acting, call)
        return await turns.run(self.token.site_id, here, work)

    async def read(
        self,
        use_case: Callable[Concatenate[Session, AuthenticatedToken, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a query for this request's site in a read transaction, in a worker thread:
        ``use_case(session, token, *args, **kwargs)``."""
        return await run_in_threadpool(
            self._in_transaction, False, partial(use_case, **kwargs), (self.token, *args)
        )

    def _in_transaction(
        self, write: bool, use_case: Callable[..., T], args: tuple[object, ...]
    ) -> T:
        with self.runtime.db.transaction(write=write) as session:
            return use_case(session, *args)

    def not_modified(self, etag: str) -> Response | None:
        """304 with the ETag when If-None-Match names the current version (RFC 7232 §3.2)."""
        if etags.matches_if_none_match(self.if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
        return None

    def user(
        self,
        document: dict[str, Any],
        *,
        status_code: int = 200,
        context: Context = Context.RESOURCE_QUERY_RESPONSE,
    ) -> Response:
        """A user's body cut to the selection, with its ETag and, when created, its Location."""
        body = narrow_document(
            document,
            context=context,
            attributes=self.attributes,
            excluded_attributes=self.excluded_attributes,
        )
        meta = document["meta"]
        location = meta["location"] if status_code == 201 else None
        return self.resource(body, etag=meta["version"], location=location, status_code=status_code)

    @staticmethod
    def resource(
        body: dict[str, Any], *, etag: str, location: str | None = None, status_code: int = 200
    ) -> Response:
        """A resource's body with its ETag (= meta.version) and, when created, its Location."""
        return resource_response(body, etag=etag, location=location, status_code=status_code)


def query_parameters(scope: Scope) -> Mapping[str, str]:
    """``ScimRequest.query_params``, also read before the request's token is checked."""
    raw: bytes = scope.get("query_string", b"")
    if b"&" in raw:
        return QueryParams(raw.decode("latin-1"))
    return dict((one_query_parameter(raw),)) if raw else {}


def one_query_parameter(raw: bytes) -> tuple[str, str]:
    """The name and value of a query string without ``&``, as ``urllib.parse.parse_qsl``
    (which Starlette uses, on the Latin-1 decoded bytes) reads it."""
    name, _, value = raw.decode("latin-1").partition("=")
    return unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")


Handler = Callable[[ScimRequest], Awaitable[Response]]


async def authenticate(
    request: Request,
    resource_id: str | None = None,
    *,
    user_id: str | None = None,
    lookup: tuple[ListQuery, UsersWhere] | None = None,
) -> ScimRequest:
    """The token is checked inline: one indexed read costs less than a thread hop.
    With ``user_id``, the token's statement reads that user too (tokens.check_token);
    with ``lookup``, the users it finds.

    Rate limits: per client address before the token is looked up, per token
    (the site's own limit, else the default) once it is known to be good.

    Writes (an audited failure, a last use older than a minute) may wait on
    locks, so they go to a worker thread.
    """
    scope = request.scope
    state = scope["app"].state
    runtime: Runtime = state.runtime
    reads: Reads = state.reads
    settings: Settings = state.settings
    limits: RateLimits = state.rate_limits
    client = scope.get("client")
    address = None if client is None else client[0][:MAX_ADDRESS_LENGTH]
    headers: dict[bytes, str] | None = scope.get(HEADERS_SCOPE_KEY)
    if headers is None:
        headers = read_headers(scope)
    limits.check_scim_address(address)
    check = await token_service.check_token(
        runtime,
        reads,
        bearer_of(headers.get(b"authorization")),
        user_id=user_id,
        where=None if lookup is None else lookup[1],
    )
    token = check.found
    count_token_check(check.failure or (None if token is not None else "unknown"))
    if token is None or check.needs_writes:
        token = await run_in_threadpool(token_service.settle_check, runtime, check, address=address)
    scope[SITE_SCOPE_KEY] = token.site_slug
    pending = limits.take_scim_token(token.token_id, token.scim_rate_limit)
    if pending is not None:
        await pending
    return ScimRequest(
        request=request,
        token=token,
        runtime=runtime,
        reads=reads,
        settings=settings,
        base_url=_base_url(request, settings.public_base_url, headers.get(b"host")),
        address=address,
        resource_id=resource_id,
        user_read=check.user_read,
        user_with_token=check.user,
        headers=headers,
        list_query=None if lookup is None else lookup[0],
        users_with_token=check.users,
    )


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint that authenticates, then runs ``handler`` under the request's
    scim2-models policy (lenient unless strict mode), so validation and the PATCH
    engines tolerate exactly what compat rewrites."""

    async def serve(request: Request) -> Response:
        scim = await authenticate(request, request.path_params.get("id"))
        with compat.request_policy(strict=scim.settings.scim_strict):
            return await handler(scim)

    serve.__name__ = handler.__name__
    serve.__doc__ = handler.__doc__
    return serve
