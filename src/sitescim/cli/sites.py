"""``sitescim site ...`` and ``sitescim user ...``: sites and their local users."""

from __future__ import annotations

from typing import Annotated

import typer

from sitescim.cli.app import JsonOption, SiteOption, emit, run, site_app, user_app
from sitescim.domain import passwords
from sitescim.services import sites


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
    view = run(
        lambda session, runtime: sites.create_site(
            session, runtime, name, slug=slug, password_min_length=password_min_length
        )
    )
    emit(
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
    chosen = run(lambda session, runtime: sites.set_scim_rate_limit(session, slug, limit))
    emit(
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
    view = run(
        lambda session, runtime: sites.create_user(
            session, runtime, site_slug=site, email=email, privilege=privilege, password=password
        )
    )
    emit(
        as_json,
        {"id": view.id, "email": view.email, "privilege": view.privilege.value},
        f"user {view.email} ({view.privilege.value}) created in {site}",
    )
