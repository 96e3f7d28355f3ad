"""``sitescim token create|list|revoke``: a site's SCIM tokens, as one of its Promasters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from sitescim.cli.app import AsOption, JsonOption, SiteOption, emit, format_date, run, token_app
from sitescim.domain.privileges import Actor
from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime

T = TypeVar("T")


def _run_as(site: str, email: str, action: Callable[[Session, Runtime, Actor], T]) -> T:
    """The use case run by the site's user named ``--as``, in one transaction."""

    def acting(session: Session, runtime: Runtime) -> T:
        actor = sites.actor_by_email(session, site_slug=site, email=email)
        return action(session, runtime, actor)

    return run(acting)


@token_app.command("create")
def token_create(
    site: SiteOption,
    as_email: AsOption,
    description: Annotated[str, typer.Option(help="What the token is for, 1-100 characters")],
    scope: Annotated[str, typer.Option(help="The token's scope")] = "scim",
    as_json: JsonOption = False,
) -> None:
    """Create a site SCIM token as a Promaster. The value is printed this once only."""
    issued = _run_as(
        site,
        as_email,
        lambda session, runtime, actor: token_service.issue_token(
            session, runtime, actor, description=description, scope=scope, address="cli"
        ),
    )
    emit(
        as_json,
        {"id": issued.id, "token": issued.value, "expires_at": issued.expires_at},
        f"token {issued.id} created; it expires {format_date(issued.expires_at)}.\n\n"
        f"    {issued.value}\n\n"
        "Store it now in your identity provider or a secret store: it will not be shown again.",
    )


@token_app.command("list")
def token_list(site: SiteOption, as_email: AsOption, as_json: JsonOption = False) -> None:
    """List the site's tokens, with a warning for those expiring within 30 days."""
    views = _run_as(
        site,
        as_email,
        lambda session, runtime, actor: list(
            token_service.list_tokens(session, runtime, actor, address="cli")
        ),
    )
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
        emit(True, payload, "")
        return
    if not views:
        typer.echo("no tokens")
        return
    for v in views:
        creator = v.created_by + ("" if v.creator_is_promaster else " (no longer a Promaster)")
        left = f"{v.days_left} days left" if v.status.value == "active" else v.status.value
        typer.echo(
            f"{v.id}  {v.status.value:<8} {v.scope:<5} {v.description!r} by {creator}; "
            f"created {format_date(v.created_at)}, expires {format_date(v.expires_at)} ({left}), "
            f"last used {format_date(v.last_used_at)}"
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
    view = _run_as(
        site,
        as_email,
        lambda session, runtime, actor: token_service.revoke_token(
            session, runtime, actor, token_id, address="cli"
        ),
    )
    emit(
        as_json,
        {"id": view.id, "status": view.status.value},
        f"token {view.id} {view.status.value}",
    )
