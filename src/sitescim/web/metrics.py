"""Prometheus metrics with ``prometheus-client``, served at ``/metrics``.

Requests are counted by route *template* (``/scim/v2/Users/{id}``, never the
raw path, whose ids would make a series per user), method, status and site.
The label children a request needs are looked up in dictionaries of our own
(the library's ``labels()`` validates and locks at every call), and their values
are incremented directly (``_Counted``), so a request costs a few dictionary
lookups and three increments.

With several workers (``sitescim serve --workers N``) each process writes its
values to files in ``PROMETHEUS_MULTIPROC_DIR`` (the ``serve`` supervisor sets
and cleans it before any worker starts) and a scrape, answered by any worker,
adds them up. Gauges of connection pools are sampled every few seconds by each
worker and summed over live workers.

``/metrics`` is not public: it answers loopback clients only, unless
``SITESCIM_METRICS_TOKEN`` is set, and then only requests bearing that token.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.types import Scope

from sitescim.settings import Settings

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
SITE_SCOPE_KEY = "sitescim.site"
NO_SITE = "-"
UNMATCHED = "unmatched"
_KEPT = 10_000

REQUESTS = Counter(
    "sitescim_http_requests",
    "HTTP requests answered, by route template, method, status and site (SCIM: the token's).",
    ["route", "method", "status", "site"],
)
LATENCY = Histogram(
    "sitescim_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKEN_CHECKS = Counter(
    "sitescim_token_checks",
    "SCIM token checks, by result: ok, or why the token was refused.",
    ["result"],
)
BULK_OPERATIONS = Counter(
    "sitescim_bulk_operations",
    "Operations of SCIM Bulk requests, by method and status.",
    ["method", "status"],
)
RATE_LIMITED = Counter(
    "sitescim_rate_limit_refusals",
    "Requests refused with 429 by a rate limit, by the limit.",
    ["limit"],
)
POOL_CONNECTIONS = Gauge(
    "sitescim_db_pool_connections",
    "Database connections of this service's pools, by pool and state (in_use, idle).",
    ["pool", "state"],
    multiprocess_mode="livesum",
)


class _Children:
    """Label children by their label values, found once each (bounded)."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._found: dict[tuple[str, ...], Any] = {}

    def get(self, *values: str) -> Any:
        child = self._found.get(values)
        if child is None:
            child = self._metric.labels(*values)
            if len(self._found) < _KEPT:
                self._found[values] = child
        return child


_requests = _Children(REQUESTS)
_latency = _Children(LATENCY)
_token_checks = _Children(TOKEN_CHECKS)
_bulk = _Children(BULK_OPERATIONS)
_rate_limited = _Children(RATE_LIMITED)

Increment = Callable[[float], None]


class _Counted(NamedTuple):
    """What a request's counter child and histogram child do when one is counted,
    as the values' own ``inc``: ``Counter.inc`` and ``Histogram.observe`` check on
    every call what holds for any child once made (observable, a positive amount)."""

    add_request: Increment
    add_seconds: Increment
    bounds: tuple[float, ...]
    buckets: tuple[Increment, ...]


_request_children: dict[tuple[str, str, int, str], _Counted] = {}


def _request_children_for(key: tuple[str, str, int, str]) -> _Counted:
    """A request's counter and histogram children, found once a label set (bounded)."""
    route, method, status, site = key
    counter = _requests.get(route, method, str(status), site)
    latency = _latency.get(route, method)
    counted = _Counted(
        counter._value.inc,
        latency._sum.inc,
        tuple(latency._upper_bounds),
        tuple(bucket.inc for bucket in latency._buckets),
    )
    if len(_request_children) < _KEPT:
        _request_children[key] = counted
    return counted


_templates: dict[tuple[str, str, type], str] = {}


_token_check_counts: dict[str, Increment] = {}


def count_token_check(failure: str | None) -> None:
    result = failure or "ok"
    count = _token_check_counts.get(result)
    if count is None:
        count = _token_checks.get(result)._value.inc
        if len(_token_check_counts) < _KEPT:
            _token_check_counts[result] = count
    count(1)


def count_rate_limited(limit: str) -> None:
    _rate_limited.get(limit).inc()


def count_bulk_operations(operations: Iterable[Mapping[str, Any]]) -> None:
    for operation in operations:
        _bulk.get(str(operation.get("method", "")), str(operation.get("status", ""))).inc()


def route_template(scope: Scope) -> str:
    """The matched route's path pattern, with the prefix of any mount it is under."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    prefix = ""
    if "app_root_path" in scope:
        prefix = str(scope.get("root_path", ""))[len(scope["app_root_path"]) :]
    path: str = getattr(route, "path", UNMATCHED)
    key = (path, prefix, type(route))
    found = _templates.get(key)
    if found is None:
        found = path + "/{path}" if isinstance(route, Mount) else prefix + path
        if len(_templates) < _KEPT:
            _templates[key] = found
    return found


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count and time one HTTP request (called by the request context middleware,
    which times every request for the access log already)."""
    observe(
        route_template(scope), scope["method"], status, scope.get(SITE_SCOPE_KEY, NO_SITE), seconds
    )


def observe(route: str, method: str, status: int, site: str, seconds: float) -> None:
    """Count and time one request whose route template is known (the SCIM lane's)."""
    key = (route, method, status, site)
    counted = _request_children.get(key)
    if counted is None:
        counted = _request_children_for(key)
    counted.add_request(1)
    counted.add_seconds(seconds)
    for bound, bucket in zip(counted.bounds, counted.buckets, strict=True):
        if seconds <= bound:
            bucket(1)
            break


def sample_pools(pools: Mapping[str, tuple[int, int]]) -> None:
    """Set the pool gauges from ``{pool: (in_use, idle)}``."""
    for pool, (in_use, idle) in pools.items():
        POOL_CONNECTIONS.labels(pool, "in_use").set(in_use)
        POOL_CONNECTIONS.labels(pool, "idle").set(idle)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


def prepare_multiprocess_dir(path: str) -> None:
    """Empty (or create) the directory before any worker writes to it: values left
    by an earlier run would be added to this one's."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


def mark_process_dead() -> None:
    """A worker leaving takes its live gauges with it."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposition(request: Request, settings: Settings) -> Response:
    """The metrics of every worker, to the loopback or the bearer of the metrics token."""
    if settings.metrics_token is not None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        expected = settings.metrics_token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
            return PlainTextResponse(
                "Send the metrics token as a bearer token.\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif not _is_loopback(request.client.host if request.client else None):
        return PlainTextResponse(
            "Metrics answer loopback clients only; set SITESCIM_METRICS_TOKEN to scrape "
            "from elsewhere.\n",
            status_code=403,
        )
    if multiprocess_dir() is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        payload = generate_latest(registry)
    else:
        payload = generate_latest(REGISTRY)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
