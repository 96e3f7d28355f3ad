"""Who is signed in, in which site: every page's header."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sitescim.db.repositories import sites as sites_repo
from sitescim.domain.errors import NotFoundError
from sitescim.domain.privileges import Actor
from sitescim.services.directory.views import Profile


def profile_of(session: Session, actor: Actor) -> Profile:
    site = sites_repo.get_site(session, actor.site_id)
    if site is None:
        raise NotFoundError("No such site.")
    return Profile(
        user_id=actor.user_id,
        label=actor.label,
        privilege=actor.privilege.value,
        is_promaster=actor.is_promaster,
        site_name=site.name,
        site_slug=site.slug,
    )
