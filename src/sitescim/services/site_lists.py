"""The sites an operator key or a webhook endpoint is limited to: slugs in, ids stored.

None stands for every site, both ways.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from sitescim.db.repositories import sites as sites_repo
from sitescim.domain.errors import NotFoundError


def site_ids_of(session: Session, slugs: Sequence[str]) -> list[str] | None:
    """The ids of the sites named, each once; an unknown slug is refused (404)."""
    if not slugs:
        return None
    site_ids = []
    for slug in dict.fromkeys(slugs):
        site = sites_repo.get_site_by_slug(session, slug)
        if site is None:
            raise NotFoundError(f"No site with slug {slug[:63]!r}.")
        site_ids.append(site.id)
    return site_ids


def slugs_of(session: Session, site_ids: Sequence[str] | None) -> list[str] | None:
    """The slugs of stored site ids, as lists show them (a deleted site drops out)."""
    if site_ids is None:
        return None
    found = (sites_repo.get_site(session, site_id) for site_id in site_ids)
    return [site.slug for site in found if site is not None]
