"""The ``sitescim`` command line's Typer apps and what every command shares.

Each command runs its use case inside one transaction of its own. A refusal
(not a Promaster, a second active token, an unknown site) exits with status 1
and one clear line on stderr; ``--json`` output is one JSON object on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from sitescim.db.engine import Database, make_engine
from sitescim.domain.errors import SitescimError
from sitescim.services.runtime import Runtime
from sitescim.settings import InsecureSettingsError, Settings

app = typer.Typer(help="sitescim: SCIM 2.0 provisioning with site SCIM access tokens.")
db_app = typer.Typer(help="Database schema.")
site_app = typer.Typer(help="Sites.")
user_app = typer.Typer(help="Local users of a site.")
token_app = typer.Typer(help="Site SCIM access tokens.")
api_key_app = typer.Typer(help="Operator API keys: the events feed and reconciliation reads.")
app.add_typer(db_app, name="db")
app.add_typer(site_app, name="site")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(api_key_app, name="api-key")

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
SiteOption = Annotated[str, typer.Option("--site", help="The site's slug.")]
AsOption = Annotated[str, typer.Option("--as", help="E-mail of the Promaster acting.")]


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def load_settings() -> Settings:
    try:
        return Settings().with_generated_secrets()
    except (InsecureSettingsError, ValueError) as error:
        fail(str(error).splitlines()[0])


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    """An engine for one command, disposed of when it is done."""
    engine = make_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _runtime() -> Iterator[Runtime]:
    settings = load_settings()
    database = Database(make_engine(settings.database_url))
    try:
        yield Runtime.from_settings(settings, database)
    finally:
        database.dispose()


def run(action: Callable[[Session, Runtime], T]) -> T:
    return run_service(lambda runtime: _in_transaction(runtime, action))


def _in_transaction(runtime: Runtime, action: Callable[[Session, Runtime], T]) -> T:
    with runtime.db.transaction(write=True) as session:
        return action(session, runtime)


def run_service(action: Callable[[Runtime], T]) -> T:
    """A use case that opens its own transactions (services.api_keys), refusals on stderr."""
    with _runtime() as runtime:
        try:
            return action(runtime)
        except SitescimError as error:
            fail(str(error))
        except (OperationalError, ProgrammingError) as error:
            # No schema yet or no server: one line, never a traceback with SQL in it.
            fail(
                f"database not usable ({type(error.orig).__name__}): check "
                "SITESCIM_DATABASE_URL and run 'sitescim db upgrade'"
            )


def emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    typer.echo(json.dumps(payload, default=_json_default) if as_json else human)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def format_date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"
