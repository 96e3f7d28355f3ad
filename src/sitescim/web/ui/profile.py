"""My Profile: who the visitor is, the SCIM base URL, and (for Promasters) the site's tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from sitescim.domain.tokens import DESCRIPTION_MAX, SCOPES
from sitescim.web.deps import ClientAddress, RuntimeDep
from sitescim.web.errors import PageRoute
from sitescim.web.ui.deps import PageDep
from sitescim.web.ui.tokens import load_token_table

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/profile")
def profile(
    page: PageDep,
    runtime: RuntimeDep,
    address: ClientAddress,
    revoked: Annotated[str, Query(max_length=36)] = "",
    created: Annotated[str, Query(max_length=36)] = "",
) -> Response:
    """``revoked``/``created`` name a token just changed, for a notice (never its value)."""
    context = page.frame("profile")
    context.update(load_token_table(page.session, runtime, page.actor, address))
    by_id = {view.id: view for view in context["tokens"]}
    base = page.settings.public_base_url or str(page.request.base_url)
    context.update(
        scopes=list(SCOPES.values()),
        scim_base_url=base.rstrip("/") + "/scim/v2",
        revoked=by_id.get(revoked),
        created=by_id.get(created),
        description_max=DESCRIPTION_MAX,
        form_error=None,
        description="",
    )
    return page.render("profile.html", context)
