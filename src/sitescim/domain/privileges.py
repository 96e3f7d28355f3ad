"""The three privileges of a site's users, and who may do what with them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sitescim.domain.errors import InvalidInputError, PermissionDeniedError


class Privilege(StrEnum):
    USER = "user"
    BUSINESS_ANALYST = "business_analyst"
    PROMASTER = "promaster"


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in person acting on their own site."""

    user_id: str
    site_id: str
    label: str
    privilege: Privilege
    active: bool = True

    @property
    def is_promaster(self) -> bool:
        return self.active and self.privilege is Privilege.PROMASTER


def parse_privilege(value: str) -> Privilege:
    try:
        return Privilege(value)
    except ValueError:
        allowed = ", ".join(p.value for p in Privilege)
        raise InvalidInputError("privilege", f"must be one of {allowed}") from None


def ensure_promaster(actor: Actor, what: str) -> None:
    """What only the site's Promasters may see: its directory and its audit log."""
    if not actor.is_promaster:
        raise PermissionDeniedError(f"Only the site's Promasters may see {what}.")
