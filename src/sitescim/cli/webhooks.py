"""``sitescim webhook add|list|remove|resume|deliveries|attempts|redeliver`` (spec section 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from sitescim.cli.app import JsonOption, app, emit, fail, format_date, load_settings
from sitescim.db.engine import Database, make_engine
from sitescim.domain.errors import SitescimError
from sitescim.services import webhooks
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings

webhook_app = typer.Typer(help="Webhook endpoints that receive the events (spec section 6).")
app.add_typer(webhook_app, name="webhook")

T = TypeVar("T")
EndpointArgument = Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id")]
DeliveryArgument = Annotated[int, typer.Argument(metavar="DELIVERY", help="The delivery's id")]


def _call(action: Callable[[Runtime, Settings], T]) -> T:
    """A use case that opens its own transactions; refusals become one line on stderr."""
    settings = load_settings()
    database = Database(make_engine(settings.database_url))
    try:
        return action(Runtime.from_settings(settings, database), settings)
    except SitescimError as error:
        fail(str(error))
    except (OperationalError, ProgrammingError) as error:
        fail(
            f"database not usable ({type(error.orig).__name__}): check "
            "SITESCIM_DATABASE_URL and run 'sitescim db upgrade'"
        )
    finally:
        database.dispose()


def _endpoint_json(view: webhooks.EndpointView) -> dict[str, Any]:
    return {
        "id": view.id,
        "url": view.url,
        "sites": view.sites,
        "types": view.types,
        "status": view.status,
        "created_at": view.created_at,
        "failing_since": view.failing_since,
    }


def _delivery_json(view: webhooks.DeliveryView) -> dict[str, Any]:
    return {
        "id": view.id,
        "event_id": view.event_id,
        "event_type": view.event_type,
        "site_id": view.site_id,
        "status": view.status,
        "attempts": view.attempts,
        "next_attempt_at": view.next_attempt_at,
        "created_at": view.created_at,
        "delivered_at": view.delivered_at,
    }


@webhook_app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(metavar="URL")],
    site: Annotated[
        list[str] | None, typer.Option("--site", help="A site's slug (repeat); default: all")
    ] = None,
    types: Annotated[
        str | None, typer.Option(help="Event types, comma-separated; default: all")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register an endpoint for events from now on. Its signing secret is printed this once."""
    created = _call(
        lambda runtime, settings: webhooks.add_endpoint(
            runtime,
            url,
            site_slugs=site or (),
            types=[types] if types else (),
            allow_private=settings.webhooks_allow_private,
        )
    )
    emit(
        as_json,
        {"id": created.view.id, "secret": created.secret, **_endpoint_json(created.view)},
        f"webhook {created.view.id} added for {created.view.url}; its signing secret:\n\n"
        f"    {created.secret}\n\n"
        "Give it to the receiver now (standardwebhooks.Webhook(secret).verify): "
        "it will not be shown again.",
    )


@webhook_app.command("list")
def webhook_list(as_json: JsonOption = False) -> None:
    """List the endpoints (never their secrets)."""
    views = _call(lambda runtime, _settings: webhooks.list_endpoints(runtime))
    if as_json:
        emit(True, {"webhooks": [_endpoint_json(view) for view in views]}, "")
        return
    if not views:
        typer.echo("no webhooks")
    for view in views:
        sites = ",".join(view.sites) if view.sites is not None else "all sites"
        kinds = ",".join(view.types) if view.types is not None else "all types"
        failing = f" since {format_date(view.failing_since)}" if view.failing_since else ""
        typer.echo(f"{view.id}  {view.status}{failing}  {view.url}  ({sites}; {kinds})")


@webhook_app.command("remove")
def webhook_remove(endpoint_id: EndpointArgument, as_json: JsonOption = False) -> None:
    """Stop sending to an endpoint, pending deliveries included."""
    view = _call(lambda runtime, _settings: webhooks.remove_endpoint(runtime, endpoint_id))
    emit(as_json, {"id": view.id, "status": view.status}, f"webhook {view.id} {view.status}")


@webhook_app.command("resume")
def webhook_resume(endpoint_id: EndpointArgument, as_json: JsonOption = False) -> None:
    """Make a failing endpoint active again; its failed deliveries are sent first, in order."""
    view = _call(lambda runtime, _settings: webhooks.resume_endpoint(runtime, endpoint_id))
    emit(as_json, {"id": view.id, "status": view.status}, f"webhook {view.id} {view.status}")


@webhook_app.command("deliveries")
def webhook_deliveries(
    endpoint_id: EndpointArgument,
    status: Annotated[
        str | None, typer.Option(help="Only pending, delivered or failed ones")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=webhooks.MAX_DELIVERIES_PAGE)] = 50,
    as_json: JsonOption = False,
) -> None:
    """An endpoint's deliveries, newest first."""
    views = _call(
        lambda runtime, _settings: webhooks.list_deliveries(
            runtime, endpoint_id, status=status, limit=limit
        )
    )
    if as_json:
        emit(True, {"deliveries": [_delivery_json(view) for view in views]}, "")
        return
    for view in views:
        typer.echo(
            f"{view.id}  {view.event_id}  {view.event_type:<22} {view.status:<9} "
            f"{view.attempts} attempts"
            + (f", next {format_date(view.next_attempt_at)}" if view.next_attempt_at else "")
        )


@webhook_app.command("attempts")
def webhook_attempts(
    endpoint_id: EndpointArgument, delivery_id: DeliveryArgument, as_json: JsonOption = False
) -> None:
    """Every attempt at a delivery: when, what came back, how long it took."""
    views = _call(
        lambda runtime, _settings: webhooks.list_attempts(runtime, endpoint_id, delivery_id)
    )
    payload = {
        "attempts": [
            {
                "attempted_at": view.attempted_at,
                "status_code": view.status_code,
                "latency_ms": view.latency_ms,
                "error": view.error,
            }
            for view in views
        ]
    }
    if as_json:
        emit(True, payload, "")
        return
    for view in views:
        outcome = view.error or f"HTTP {view.status_code}"
        typer.echo(f"{format_date(view.attempted_at)}  {view.latency_ms} ms  {outcome}")


@webhook_app.command("redeliver")
def webhook_redeliver(
    endpoint_id: EndpointArgument, delivery_id: DeliveryArgument, as_json: JsonOption = False
) -> None:
    """Send a delivery again, with the same webhook-id and body."""
    view = _call(lambda runtime, _settings: webhooks.redeliver(runtime, endpoint_id, delivery_id))
    emit(as_json, {"id": view.id, "status": view.status}, f"delivery {view.id} {view.status}")
