"""Site rows: looked up by slug or id, added, and locked to serialise rules that span a site."""

from __future__ import annotations

from sqlalchemy import (
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.models import (
    Site,
)
from sitescim.domain.errors import AlreadyExistsError


def get_site_by_slug(session: Session, slug: str) -> Site | None:
    return session.scalar(select(Site).where(Site.slug == slug))


def get_site(session: Session, site_id: str) -> Site | None:
    return session.get(Site, site_id)


def add_site(session: Session, site: Site) -> Site:
    try:
        with session.begin_nested():
            session.add(site)
    except IntegrityError:
        raise AlreadyExistsError(f"A site with slug {site.slug!r} already exists.") from None
    return site


def lock_site(session: Session, site_id: str) -> Site | None:
    """Serialise changes that must see each other (the last Promaster rule).

    SQLite write transactions are already serialised (BEGIN IMMEDIATE); on
    PostgreSQL the row lock makes a concurrent change wait and then re-read.
    """
    return session.scalar(select(Site).where(Site.id == site_id).with_for_update())
