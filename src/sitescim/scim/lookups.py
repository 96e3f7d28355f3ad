"""The equality lookups identity providers send on every sync, recognised up front.

Entra ID asks ``userName eq "…"`` (and ``externalId eq``) before each create,
Okta ``userName eq``. Such a query, on the first page and in the default
order, is one indexed read: the service serves it without the general filter
engine, its ``COUNT(*)`` and its ORM session. Anything else goes the general way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from sitescim.scim.listing import ListQuery
from sitescim.scim.schemas import GROUP_SCHEMA, USER_SCHEMA

_EQUALITY = re.compile(
    rf"^\s*(?:{re.escape(USER_SCHEMA)}:)?(?P<attr>username|externalid|id)"
    r'\s+eq\s+(?P<value>"[^"\\]*")\s*$',  # an escaped value goes the general way
    re.IGNORECASE,
)
_COLUMNS = {"username": "user_name_key", "externalid": "external_id", "id": "id"}
_GROUP_EQUALITY = re.compile(
    rf"^\s*(?:{re.escape(GROUP_SCHEMA)}:)?(?P<attr>displayname|externalid|id)"
    r'\s+eq\s+(?P<value>"[^"\\]*")\s*$',
    re.IGNORECASE,
)
_GROUP_COLUMNS = {"displayname": "display_name_key", "externalid": "external_id", "id": "id"}


@dataclass(frozen=True, slots=True)
class Lookup:
    """An indexed ``users`` column (db.reads.LOOKUP_COLUMNS) and the value it must equal."""

    column: str
    value: str


def user_lookup(query: ListQuery) -> Lookup | None:
    """The lookup ``query`` amounts to, or None when it needs the general engine.

    ``userName`` is caseExact false, so it is compared on its case-folded key
    (as the filter engine does); ``id`` and ``externalId`` are caseExact.
    """
    return _lookup(query, _EQUALITY, _COLUMNS, folded="username")


def group_lookup(query: ListQuery) -> Lookup | None:
    """The same for groups: ``displayName`` (caseExact false), ``externalId``, ``id``."""
    return _lookup(query, _GROUP_EQUALITY, _GROUP_COLUMNS, folded="displayname")


def _lookup(
    query: ListQuery, shape: re.Pattern[str], columns: dict[str, str], *, folded: str
) -> Lookup | None:
    if (
        query.filter is None
        or query.sort_by is not None
        or query.cursor is not None
        or query.start_index != 1
        or query.count < 1
    ):
        return None
    match = shape.match(query.filter)
    if match is None:
        return None
    try:
        value = orjson.loads(match["value"])
    except orjson.JSONDecodeError:  # a raw control character: the general engine says why
        return None
    attribute = match["attr"].lower()
    return Lookup(columns[attribute], value.casefold() if attribute == folded else value)
