"""The equality lookups identity providers send on every sync, recognised up front.

Entra ID asks ``userName eq "…"`` (and ``externalId eq``) before each create,
Okta ``userName eq``. Such a query, on the first page and in the default
order, is one indexed read: the service serves it without the general filter
engine, its ``COUNT(*)`` and its ORM session. Anything else goes the general way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from scim2_models import SCIMException

from sitescim.db.reads import UsersWhere
from sitescim.scim import listing
from sitescim.scim.attributes import ResourceCatalog
from sitescim.scim.catalog import USER_CATALOG
from sitescim.scim.filtering import MAX_FILTER_LENGTH
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


def users_where(query: ListQuery) -> UsersWhere | None:
    """The read of ``user_lookup(query)``: every match, and one more to tell a lookup
    that finds more than a page (which goes the general way)."""
    lookup = user_lookup(query)
    return None if lookup is None else UsersWhere(lookup.column, lookup.value, query.count + 1)


def lookup_in(params: Mapping[str, str]) -> tuple[ListQuery, UsersWhere] | None:
    """A list of users that is a lookup, recognised before its token is checked so that
    the token's statement reads the users too; None for anything else, said nothing
    about: a query that does not parse is refused once the token is known good."""
    try:
        query = query_from_params(params, USER_CATALOG)
    except (SCIMException, ValueError):
        return None
    where = users_where(query)
    return None if where is None else (query, where)


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


def _plain(schema: str, attributes: str) -> re.Pattern[str]:
    return re.compile(
        rf"^ *(?:{re.escape(schema)}:)?(?:{attributes}) +eq +\"[^\"\\\x00-\x1f\x7f]*\" *$",
        re.IGNORECASE | re.ASCII,
    )


_PLAIN_USER = _plain(USER_SCHEMA, "username|externalid|id")
_PLAIN_GROUP = _plain(GROUP_SCHEMA, "displayname|externalid|id")


def query_from_params(params: Mapping[str, str], resource: ResourceCatalog) -> ListQuery:
    """``listing.query_from_params``, without parsing a filter of the plain lookup shape.

    Entra ID and Okta send a new ``userName eq "…"`` before every create, so the
    filter grammar's cache never holds it, and parsing it cost more than the rest of
    the request (issue 9). A filter of this narrower shape (ASCII spaces, a string
    without escapes or control characters, within the length limit) always parses:
    a property test holds the grammar to it. Every other parameter is checked as
    ``listing`` checks it, so every answer is the same.
    """
    values = {name.lower(): value for name, value in params.items()}
    text = values.get("filter")
    plain = _PLAIN_USER if resource is USER_CATALOG else _PLAIN_GROUP
    if text is None or len(text) > MAX_FILTER_LENGTH or plain.match(text) is None:
        return listing.query_from_params(values, resource)
    del values["filter"]
    return listing.query_with_checked_filter(values, resource, text)
