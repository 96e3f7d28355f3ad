"""The ASGI application: create_app(settings) wires routers, middleware and errors."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text
from sqlalchemy.pool import QueuePool
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from sitescim.db.engine import Database, make_engine
from sitescim.db.reads import Reads, open_reads
from sitescim.domain.clock import Clock, system_clock
from sitescim.services import events as event_service
from sitescim.services import sessions
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.services.stored_documents import store_documents
from sitescim.services.worker import Worker
from sitescim.settings import Settings, get_settings
from sitescim.web import errors, metrics
from sitescim.web.api import audit as audit_api
from sitescim.web.api import documentation
from sitescim.web.api import events as events_api
from sitescim.web.api import reconciliation as reconciliation_api
from sitescim.web.api import session as session_api
from sitescim.web.api import tokens as tokens_api
from sitescim.web.api import webhooks as webhooks_api
from sitescim.web.deps import SESSION_COOKIE as SESSION_COOKIE
from sitescim.web.hosts import AllowedHosts, AllowedHostsMiddleware
from sitescim.web.middleware import BodyLimitMiddleware, BodyLimits, RequestContextMiddleware
from sitescim.web.ratelimits import RateLimits
from sitescim.web.scim import bulk
from sitescim.web.scim.lane import ScimLane
from sitescim.web.scim.lane import takes as lane_takes
from sitescim.web.scim.routes import scim_routes
from sitescim.web.ui import pages as ui_pages
from sitescim.web.ui import routes as ui_routes
from sitescim.web.write_turns import WriteTurns

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600
STATISTICS_INTERVAL_SECONDS = 300
POOL_SAMPLE_SECONDS = 5


async def _every(interval_seconds: float, name: str, task: Callable[[], object]) -> None:
    """Run ``task`` in a worker thread now and then every ``interval_seconds``."""
    while True:
        try:
            await run_in_threadpool(task)
        except Exception:
            log.exception("upkeep failed", extra={"task": name})
        await asyncio.sleep(interval_seconds)


def _upkeep(runtime: Runtime, settings: Settings) -> list[Coroutine[Any, Any, None]]:
    """Expiry warnings (T6), ended sessions and events past their retention daily;
    planner statistics every few minutes, since plans must not wait for autovacuum
    (a refresh with nothing changed costs one query), and so are the stored
    documents of users written without one. Token-expiry notices are the worker's
    (services.worker)."""
    retention = timedelta(days=settings.events_retention_days)
    return [
        _every(
            DAY_SECONDS, "expiry warnings", partial(token_service.warn_expiring_tokens, runtime)
        ),
        _every(DAY_SECONDS, "ended sessions", partial(sessions.purge_expired, runtime)),
        _every(DAY_SECONDS, "events retention", partial(event_service.prune, runtime, retention)),
        _every(STATISTICS_INTERVAL_SECONDS, "planner statistics", runtime.db.refresh_statistics),
        _every(STATISTICS_INTERVAL_SECONDS, "stored documents", partial(store_documents, runtime)),
    ]


class SitescimApp(FastAPI):
    """FastAPI for /api/v1, the UI and operations; SCIM requests go to the lane first
    (web/scim/lane.py), which answers them without FastAPI's per-request stack."""

    scim_lane: ScimLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.scim_lane
        if lane is not None and lane_takes(scope):
            scope["app"] = self  # what handlers reach through ``request.app``
            await lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    database: Database | None = None,
) -> SitescimApp:
    settings = (settings or get_settings()).with_generated_secrets()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(make_engine(settings.database_url))
        runtime = Runtime.from_settings(settings, db, clock=clock)
        app.state.runtime = runtime
        app.state.settings = settings
        app.state.reads = await open_reads(db.engine)
        app.state.rate_limits = RateLimits(settings)
        # SQLite has one writer at a time: SCIM writes queue for one thread.
        app.state.write_turns = WriteTurns() if db.dialect == "sqlite" else None
        upkeep = [asyncio.create_task(job) for job in _upkeep(runtime, settings)]
        sample = partial(_sample_pools, runtime.db, app.state.reads)
        upkeep.append(asyncio.create_task(_every(POOL_SAMPLE_SECONDS, "pool metrics", sample)))
        worker = Worker.from_settings(runtime, settings) if settings.worker else None
        if worker is not None:
            worker.start()  # webhook delivery and periodic jobs, in a thread of its own
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            for task in upkeep:
                task.cancel()
            for task in upkeep:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.reads.close()
            await app.state.rate_limits.close()
            metrics.mark_process_dead()
            if database is None:
                db.dispose()

    app = SitescimApp(
        title="sitescim",
        summary="SCIM 2.0 provisioning per site, guarded by site SCIM access tokens",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        # sitescim sends no OpenTelemetry data, and FastAPI's per-request check of
        # the global providers cost a tenth of a SCIM GET.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)

    api_routes, ui_routes_built = _built_routes()
    app.router.routes.extend(api_routes)
    documentation.install(app)

    app.router.routes.insert(0, scim_routes())  # first: the hot path matches at once
    _add_health(app)
    _add_metrics(app, settings)
    app.router.routes.extend(ui_routes_built)
    app.mount("/static", StaticFiles(directory=ui_pages.STATIC_DIR), name="static")

    body_limits = BodyLimits(settings.max_body_bytes, bulk.body_limits(settings))
    app.add_middleware(BodyLimitMiddleware, limits=body_limits)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(AllowedHostsMiddleware, settings=settings)
    app.scim_lane = ScimLane(
        hosts=AllowedHosts(settings),
        body_limits=body_limits,
        exception_handlers=app.exception_handlers,
        on_unexpected=errors.on_unexpected,
    )
    return app


@functools.cache
def _built_routes() -> tuple[tuple[BaseRoute, ...], tuple[BaseRoute, ...]]:
    """The JSON API's routes and the UI's, as ``include_router`` builds them, built once
    a process: analysing their dependencies took nine tenths of ``create_app`` (40 ms,
    paid by every test's app). They hold no state of an app: what a handler needs it
    reaches through ``request.app``, and nothing sets ``dependency_overrides``."""
    api = APIRouter(prefix="/api/v1")
    for router in (
        session_api.router,
        tokens_api.router,
        audit_api.router,
        webhooks_api.router,
        events_api.router,
        reconciliation_api.router,
    ):
        api.include_router(router)
    built = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    built.include_router(api)
    api_count = len(built.router.routes)
    built.include_router(ui_routes.router)
    routes = tuple(built.router.routes)
    return routes[:api_count], routes[api_count:]


def _sample_pools(db: Database, reads: Reads) -> None:
    """Each pool's connections in use and idle, for the gauges of /metrics."""
    pools: dict[str, tuple[int, int]] = {}
    for name, engine in zip(("writes", "reads"), db.engines, strict=False):
        pool = engine.pool
        if isinstance(pool, QueuePool):
            pools[name] = (pool.checkedout(), pool.checkedin())
    hot = reads.pool_use()
    if hot is not None:
        pools["hot_reads"] = hot
    metrics.sample_pools(pools)


def _add_metrics(app: FastAPI, settings: Settings) -> None:
    @app.get("/metrics", include_in_schema=False)
    def serve_metrics(request: Request) -> Response:
        """Prometheus metrics; not public (web/metrics.py says who may read them)."""
        state = request.app.state
        _sample_pools(state.runtime.db, state.reads)
        return metrics.exposition(request, settings)


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the database answers."""
        runtime: Runtime = request.app.state.runtime
        try:
            with runtime.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            log.exception("readiness check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})
