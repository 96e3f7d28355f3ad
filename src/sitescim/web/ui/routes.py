"""The web UI's pages, one module per family: sign in, My Profile and its access
tokens, people, groups, activity.

Handlers are thin: they read the form or query, call a service, and render a
page. Every page works without JavaScript; ``static/app.js`` only upgrades the
create and delete steps into dialogs and adds the Copy button.
"""

from __future__ import annotations

from fastapi import APIRouter

from sitescim.web.ui import activity, groups, people, profile, sign_in, tokens

router = APIRouter(include_in_schema=False)
for family in (sign_in, profile, tokens, people, groups, activity):
    router.include_router(family.router)
