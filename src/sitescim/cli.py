"""The ``sitescim`` command line, for people and (with ``--json``) for scripts.

Each command runs its use case inside one transaction of its own. A refusal
(not a Promaster, a second active token, an unknown site) exits with status 1
and one clear line on stderr; ``--json`` output is one JSON object on stdout.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.db.repositories import sites as sites_repo
from sitescim.domain import passwords
from sitescim.domain.errors import AlreadyExistsError, SitescimError
from sitescim.domain.privileges import Privilege
from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.settings import InsecureSettingsError, Settings, update_secrets_file

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="sitescim: SCIM 2.0 provisioning with site SCIM access tokens.")
db_app = typer.Typer(help="Database schema.")
site_app = typer.Typer(help="Sites.")
user_app = typer.Typer(help="Local users of a site.")
token_app = typer.Typer(help="Site SCIM access tokens.")
app.add_typer(db_app, name="db")
app.add_typer(site_app, name="site")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
SiteOption = Annotated[str, typer.Option("--site", help="The site's slug.")]
AsOption = Annotated[str, typer.Option("--as", help="E-mail of the Promaster acting.")]
DEMO_SITE = "demo"
DEMO_EMAIL = "admin@demo.example"
WORKER_HEALTHCHECK_SECONDS = 60


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _settings() -> Settings:
    try:
        return Settings().with_generated_secrets()
    except (InsecureSettingsError, ValueError) as error:
        _fail(str(error).splitlines()[0])


@contextmanager
def _runtime() -> Iterator[Runtime]:
    settings = _settings()
    database = Database(make_engine(settings.database_url))
    try:
        yield Runtime.from_settings(settings, database)
    finally:
        database.dispose()


def _run(action: Callable[[Session, Runtime], T]) -> T:
    with _runtime() as runtime:
        try:
            with runtime.db.transaction(write=True) as session:
                return action(session, runtime)
        except SitescimError as error:
            _fail(str(error))
        except (OperationalError, ProgrammingError) as error:
            # No schema yet or no server: one line, never a traceback with SQL in it.
            _fail(
                f"database not usable ({type(error.orig).__name__}): check "
                "SITESCIM_DATABASE_URL and run 'sitescim db upgrade'"
            )


def _emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    typer.echo(json.dumps(payload, default=_json_default) if as_json else human)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the schema migrations."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        migrations.upgrade(engine, revision)
    finally:
        engine.dispose()
    typer.echo(f"database at revision {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ('base' for an empty database)."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        migrations.downgrade(engine, revision)
    finally:
        engine.dispose()
    typer.echo(f"database at revision {revision}")


@site_app.command("create")
def site_create(
    name: str,
    slug: Annotated[str | None, typer.Option(help="URL-safe short name")] = None,
    password_min_length: Annotated[
        int, typer.Option(help="Local and SCIM passwords' minimum length (NIST SP 800-63B: 8)")
    ] = passwords.MIN_LENGTH,
    as_json: JsonOption = False,
) -> None:
    """Create a site."""
    view = _run(
        lambda session, runtime: sites.create_site(
            session, runtime, name, slug=slug, password_min_length=password_min_length
        )
    )
    _emit(
        as_json,
        {"id": view.id, "slug": view.slug, "name": view.name},
        f"site {view.slug} created ({view.id})",
    )


@site_app.command("rate-limit")
def site_rate_limit(
    slug: str,
    limit: Annotated[
        str | None,
        typer.Argument(help='SCIM requests per token, e.g. "50/second"; omit for the default'),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Set (or reset to the service's default) a site's SCIM rate limit per token."""
    chosen = _run(lambda session, runtime: sites.set_scim_rate_limit(session, slug, limit))
    _emit(
        as_json,
        {"slug": slug, "scim_rate_limit": chosen},
        f"site {slug}: SCIM rate limit {chosen or 'default'}",
    )


@user_app.command("create")
def user_create(
    email: str,
    site: SiteOption,
    privilege: Annotated[str, typer.Option(help="user | business_analyst | promaster")] = "user",
    password: Annotated[
        str | None,
        typer.Option(
            help="Local sign-in password (or SITESCIM_PASSWORD)", envvar="SITESCIM_PASSWORD"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a local user of a site."""
    view = _run(
        lambda session, runtime: sites.create_user(
            session, runtime, site_slug=site, email=email, privilege=privilege, password=password
        )
    )
    _emit(
        as_json,
        {"id": view.id, "email": view.email, "privilege": view.privilege.value},
        f"user {view.email} ({view.privilege.value}) created in {site}",
    )


@token_app.command("create")
def token_create(
    site: SiteOption,
    as_email: AsOption,
    description: Annotated[str, typer.Option(help="What the token is for, 1-100 characters")],
    scope: Annotated[str, typer.Option(help="The token's scope")] = "scim",
    as_json: JsonOption = False,
) -> None:
    """Create a site SCIM token as a Promaster. The value is printed this once only."""

    def issue(session: Session, runtime: Runtime) -> token_service.IssuedToken:
        actor = sites.actor_by_email(session, site_slug=site, email=as_email)
        return token_service.issue_token(
            session, runtime, actor, description=description, scope=scope, address="cli"
        )

    issued = _run(issue)
    _emit(
        as_json,
        {"id": issued.id, "token": issued.value, "expires_at": issued.expires_at},
        f"token {issued.id} created; it expires {_date(issued.expires_at)}.\n\n"
        f"    {issued.value}\n\n"
        "Store it now in your identity provider or a secret store: it will not be shown again.",
    )


@token_app.command("list")
def token_list(site: SiteOption, as_email: AsOption, as_json: JsonOption = False) -> None:
    """List the site's tokens, with a warning for those expiring within 30 days."""

    def fetch(session: Session, runtime: Runtime) -> list[token_service.TokenView]:
        actor = sites.actor_by_email(session, site_slug=site, email=as_email)
        return list(token_service.list_tokens(session, runtime, actor, address="cli"))

    views = _run(fetch)
    payload = {
        "tokens": [
            {
                "id": v.id,
                "description": v.description,
                "scope": v.scope,
                "created_by": v.created_by,
                "created_at": v.created_at,
                "expires_at": v.expires_at,
                "last_used_at": v.last_used_at,
                "status": v.status.value,
                "days_left": v.days_left,
                "expires_soon": v.expires_soon,
                "creator_is_promaster": v.creator_is_promaster,
                "last_used_from": v.last_used_from,
                "revoked_at": v.revoked_at,
                "revoked_by": v.revoked_by,
            }
            for v in views
        ]
    }
    for view in views:
        if view.expires_soon:
            typer.echo(
                f"warning: token {view.id} ({view.description}) expires in {view.days_left} days",
                err=True,
            )
    if as_json:
        _emit(True, payload, "")
        return
    if not views:
        typer.echo("no tokens")
        return
    for v in views:
        creator = v.created_by + ("" if v.creator_is_promaster else " (no longer a Promaster)")
        left = f"{v.days_left} days left" if v.status.value == "active" else v.status.value
        typer.echo(
            f"{v.id}  {v.status.value:<8} {v.scope:<5} {v.description!r} by {creator}; "
            f"created {_date(v.created_at)}, expires {_date(v.expires_at)} ({left}), "
            f"last used {_date(v.last_used_at)}"
            + (f" from {v.last_used_from}" if v.last_used_from else "")
        )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID")],
    site: SiteOption,
    as_email: AsOption,
    as_json: JsonOption = False,
) -> None:
    """Revoke a token of the site: SCIM calls with it fail from now on."""

    def revoke(session: Session, runtime: Runtime) -> token_service.TokenView:
        actor = sites.actor_by_email(session, site_slug=site, email=as_email)
        return token_service.revoke_token(session, runtime, actor, token_id, address="cli")

    view = _run(revoke)
    _emit(
        as_json,
        {"id": view.id, "status": view.status.value},
        f"token {view.id} {view.status.value}",
    )


@app.command("check")
def check() -> None:
    """Check a deployment: settings, database reachable, schema up to date."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            from alembic.runtime.migration import MigrationContext

            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as error:  # any driver error means the database is not usable
        _fail(f"database not reachable: {type(error).__name__}")
    finally:
        engine.dispose()
    head = migrations.current_head()
    if current != head:
        _fail(f"database schema at {current}, expected {head}: run 'sitescim db upgrade'")
    typer.echo(f"ok: database reachable, schema at {head}, environment {settings.environment}")


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

    settings = _settings()
    configure_logging(settings.log_level, log_format=settings.log_format)
    LimitedHttpToolsProtocol.configure(settings)
    return create_app(settings)


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

    settings = _settings()
    configure_logging(settings.log_level, log_format=settings.log_format)
    LimitedHttpToolsProtocol.configure(settings)
    processes = workers or settings.workers or default_workers(settings)
    if processes > 1:
        _share_metrics_between_workers()
    if processes > 1 and settings.database_url.startswith("sqlite") and not settings.sqlite_path:
        _fail("an in-memory SQLite database cannot be shared by several workers: use --workers 1")
    # Migrations and the demo site happen once, here, before any worker starts.
    if migrate if migrate is not None else settings.sqlite_path is not None:
        engine = make_engine(settings.database_url)
        try:
            migrations.upgrade(engine)
        finally:
            engine.dispose()
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
    if processes == 1:
        uvicorn.run(create_app(settings), **options)
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
