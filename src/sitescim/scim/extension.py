"""The sitescim User extension: a user's privilege, seen (and maybe set) over SCIM.

The privilege is read-only to SCIM clients unless the site has allowed SCIM to
set it (spec section 2: a compromised identity-provider token must not be a
way to become administrator). Mutability is part of the schema, so the two
cases are two Extension classes under one URN: scim2-models then ignores the
attribute in creations and replacements, and refuses it in PATCH, by itself.
``SitescimUser`` is the one /Schemas lists by default.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from scim2_models import URN, Extension, Mutability, Returned

from sitescim.domain.privileges import Privilege
from sitescim.scim.schemas import SITESCIM_USER_SCHEMA

PRIVILEGES = [privilege.value for privilege in Privilege]


class SitescimUser(Extension):
    """Attributes of a sitescim user; the privilege is set in the site, not over SCIM."""

    __schema__ = URN(SITESCIM_USER_SCHEMA)

    privilege: Annotated[str | None, Mutability.read_only, Returned.default] = Field(
        None, examples=PRIVILEGES
    )
    """The user's privilege in the site: user, business_analyst or promaster."""


class SitescimWritableUser(Extension):
    """Attributes of a sitescim user; this site lets SCIM set the privilege."""

    __schema__ = URN(SITESCIM_USER_SCHEMA)

    privilege: Annotated[str | None, Mutability.read_write, Returned.default] = Field(
        None, examples=PRIVILEGES
    )
    """The user's privilege in the site: user, business_analyst or promaster."""
