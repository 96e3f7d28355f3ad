"""``sitescim serve``: the service, in one process or several workers, with a demo site."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sitescim.cli.app import app, fail, load_settings, open_engine
from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.db.repositories import sites as sites_repo
from sitescim.domain.errors import AlreadyExistsError
from sitescim.domain.privileges import Privilege
from sitescim.services import sites
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings, update_secrets_file

if TYPE_CHECKING:
    from fastapi import FastAPI

DEMO_SITE = "demo"
DEMO_EMAIL = "admin@demo.example"
WORKER_HEALTHCHECK_SECONDS = 60
WORKER_STOP_SECONDS = 20


def _ensure_demo(settings: Settings) -> tuple[str, str | None]:
    """Create the demo site and its first Promaster once; return the sign-in details."""
    secrets_file = settings.default_secrets_file()
    database = Database(make_engine(settings.database_url))
    runtime = Runtime.from_settings(settings, database)
    try:
        with database.transaction(write=True) as session:
            if sites_repo.get_site_by_slug(session, DEMO_SITE) is not None:
                stored = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
                return DEMO_EMAIL, stored.get("demo_password")
            password = secrets.token_urlsafe(12)
            try:
                sites.create_site(session, runtime, "Demo site", slug=DEMO_SITE)
                sites.create_user(
                    session,
                    runtime,
                    site_slug=DEMO_SITE,
                    email=DEMO_EMAIL,
                    privilege=Privilege.PROMASTER,
                    password=password,
                )
            except AlreadyExistsError:
                return DEMO_EMAIL, None
        update_secrets_file(secrets_file, demo_password=password)
        return DEMO_EMAIL, password
    finally:
        database.dispose()


def default_workers(settings: Settings) -> int:
    """One worker per core on PostgreSQL; one on SQLite (see ``serve --help``)."""
    if settings.database_url.startswith("sqlite"):
        return 1
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_app() -> FastAPI:
    """The application of one ``serve --workers N`` process, started by uvicorn's supervisor.

    Each worker is a fresh interpreter: it reads the same environment and
    secrets file as the parent, which has already migrated the database and
    created the demo site, and sets up its own logging.
    """
    from sitescim.logs import configure_logging
    from sitescim.web.app import create_app
    from sitescim.web.server import LimitedHttpToolsProtocol

    settings = load_settings()
    configure_logging(settings.log_level, log_format=settings.log_format)
    LimitedHttpToolsProtocol.configure(settings)
    return _frozen(create_app(settings))


def _frozen(application: FastAPI) -> FastAPI:
    """The objects start-up built (modules, models, routes) live as long as the
    process: frozen, a full collection no longer walks them. Full collections
    were about 100 ms each at 10,000 objects a Bulk request, and every request
    paid for them (issue 9). Only for the served process: tests build an app
    each, and frozen cycles are never freed."""
    gc.collect()
    gc.freeze()
    return application


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (SITESCIM_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (SITESCIM_PORT)")] = None,
    demo: Annotated[
        bool, typer.Option(help="Create a demo site and Promaster on first start")
    ] = False,
    migrate: Annotated[
        bool | None, typer.Option(help="Apply migrations first (default: yes on SQLite)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes sharing the port (SITESCIM_WORKERS). Default: one per core "
            "on PostgreSQL; 1 on SQLite, where every write takes the one database lock, so "
            "more workers only add read capacity (several are safe: WAL and a busy timeout "
            "serialise writers across processes).",
        ),
    ] = None,
) -> None:
    """Run the service."""
    import uvicorn

    from sitescim.logs import configure_logging
    from sitescim.web.app import create_app
    from sitescim.web.server import PROTOCOL, LimitedHttpToolsProtocol

    settings = load_settings()
    configure_logging(settings.log_level, log_format=settings.log_format)
    LimitedHttpToolsProtocol.configure(settings)
    processes = workers or settings.workers or default_workers(settings)
    if processes > 1:
        _share_metrics_between_workers()
    if processes > 1 and settings.database_url.startswith("sqlite") and not settings.sqlite_path:
        fail("an in-memory SQLite database cannot be shared by several workers: use --workers 1")
    # Migrations and the demo site happen once, here, before any worker starts.
    if migrate if migrate is not None else settings.sqlite_path is not None:
        with open_engine(settings) as engine:
            migrations.upgrade(engine)
    bind_host = host or settings.host
    bind_port = port or settings.port
    base = settings.public_base_url or f"http://{bind_host}:{bind_port}"
    if demo:
        email, password = _ensure_demo(settings)
        shown = password or "(set on first start; see the secrets file beside the database)"
        typer.echo(
            "\nsitescim demo\n"
            f"  sign in        {base}/sign-in\n"
            f"  SCIM base URL  {base}/scim/v2\n"
            f"  API docs       {base}/api/v1/docs\n"
            f"  site           {DEMO_SITE}\n"
            f"  Promaster      {email}\n"
            f"  password       {shown}\n"
            f"  database       {settings.database_url}\n\n"
            "Create a SCIM token in the web UI (My Profile > Access Tokens), or:\n"
            f"  {sys.argv[0]} token create --site {DEMO_SITE} --as {email} --description 'Entra ID'\n"
        )
    options: dict[str, Any] = {
        "host": bind_host,
        "port": bind_port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "http": PROTOCOL,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_connections,
    }
    if settings.worker:
        _start_delivery_process()
        os.environ["SITESCIM_WORKER"] = "false"  # the HTTP processes leave it to that one
        settings = settings.model_copy(update={"worker": False})
    if processes == 1:
        uvicorn.run(_frozen(create_app(settings)), **options)
    else:
        # uvicorn's supervisor binds the port once and restarts a worker that dies or
        # stops answering its pings. Its default of 5 s killed workers that were still
        # importing on a loaded machine, again and again: a starting worker needs longer.
        uvicorn.run(
            "sitescim.cli:worker_app",
            factory=True,
            workers=processes,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            **options,
        )


def _share_metrics_between_workers() -> None:
    """Workers write their metrics to files in one directory, emptied here, before any
    worker starts (prometheus-client reads the variable when a worker imports it)."""
    from sitescim.web import metrics

    directory = os.environ.get(metrics.MULTIPROCESS_ENV)
    if not directory:
        directory = tempfile.mkdtemp(prefix="sitescim-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[metrics.MULTIPROCESS_ENV] = directory
    metrics.prepare_multiprocess_dir(directory)


def _start_delivery_process() -> subprocess.Popen[bytes]:
    """``sitescim worker`` beside the HTTP processes: webhook delivery and notices.

    A process, not a thread of the HTTP process: a thread shares the GIL (and on
    SQLite the process's write turn) with the SCIM requests, and took 27 % of
    PATCH throughput on SQLite where a process of its own took 13 %
    (bench/events_cost.py). It dies with ``serve`` (SIGTERM on exit, and the
    kernel's parent-death signal if ``serve`` is killed outright).
    """
    command = [sys.executable, "-m", "sitescim.cli", "worker"]
    process = subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: S603
    atexit.register(_stop_delivery_process, process)
    return process


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def _stop_delivery_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
