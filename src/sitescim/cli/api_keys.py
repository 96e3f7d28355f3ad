"""``sitescim api-key create|list|revoke``: the operator's keys for the events feed and
the reconciliation reads. The operator runs these on the server; no site's Promaster
is involved, as a key reads every site or those it names."""

from __future__ import annotations

from typing import Annotated

import typer

from sitescim.cli.app import JsonOption, api_key_app, emit, format_date
from sitescim.cli.app import run_service as _run
from sitescim.services import api_keys
from sitescim.services.api_keys import KeyView


def _shown(view: KeyView) -> dict[str, object]:
    return {
        "id": view.id,
        "description": view.description,
        "sites": view.sites,
        "created_at": view.created_at,
        "last_used_at": view.last_used_at,
        "status": view.status,
    }


@api_key_app.command("create")
def api_key_create(
    description: Annotated[str, typer.Option(help="What the key is for, 1-100 characters")],
    site: Annotated[
        list[str] | None,
        typer.Option("--site", help="A site's slug the key may read (repeat); none: every site"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an operator key. Its value is printed this once only."""
    issued = _run(
        lambda runtime: api_keys.create_key(
            runtime, description=description, site_slugs=list(site or ())
        )
    )
    reach = ", ".join(issued.view.sites) if issued.view.sites is not None else "every site"
    emit(
        as_json,
        {"id": issued.view.id, "key": issued.key},
        f"api key {issued.view.id} created; it reads {reach}.\n\n"
        f"    {issued.key}\n\n"
        "Store it now in the application's secret store: it will not be shown again.",
    )


@api_key_app.command("list")
def api_key_list(as_json: JsonOption = False) -> None:
    """List operator keys (never their values, which are not kept)."""
    views = _run(api_keys.list_keys)
    if as_json:
        emit(True, {"keys": [_shown(view) for view in views]}, "")
        return
    if not views:
        typer.echo("no api keys")
        return
    for v in views:
        reach = ", ".join(v.sites) if v.sites is not None else "every site"
        typer.echo(
            f"{v.id}  {v.status:<8} {v.description!r} reads {reach}; "
            f"created {format_date(v.created_at)}, last used {format_date(v.last_used_at)}"
        )


@api_key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    """Revoke a key: requests with it fail from now on, on every instance."""
    view = _run(lambda runtime: api_keys.revoke_key(runtime, key_id))
    emit(as_json, {"id": view.id, "status": view.status}, f"api key {view.id} {view.status}")
