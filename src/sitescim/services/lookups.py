"""Equality lookups (scim.lookups) and reads by id served by the hot reader, for Users
and Groups alike.

Each is one indexed statement; ``totalResults`` is the number of rows found,
which is exact because a lookup that finds more than a page gives way to the
general engine (None here), which counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sitescim.db.reads import Reads
from sitescim.db.records import GroupRecord, UserSnapshot
from sitescim.domain.errors import NotFoundError
from sitescim.scim import lookups, user_documents
from sitescim.scim.listing import ListQuery
from sitescim.services.tokens import AuthenticatedToken


@dataclass(frozen=True, slots=True)
class Found:
    """What a lookup found: every match, on one first page."""

    total: int
    items: Sequence[Any]


async def look_up_users(
    reads: Reads,
    token: AuthenticatedToken,
    query: ListQuery,
    *,
    base_url: str,
    read_with_token: list[UserSnapshot] | None = None,
) -> Found | None:
    """The users' documents, or None when the query needs the general engine.
    ``read_with_token``: the rows of the lookup ``query`` is, read already by the
    token's statement (web.scim.routes recognised it)."""
    found = read_with_token
    if found is None:
        where = lookups.users_where(query)
        if where is None:
            return None
        found = await reads.users_where(token.site_id, where.column, where.value, limit=where.limit)
    if len(found) > query.count:
        return None
    documents = [
        user_documents.user_document(item.user, item.values, item.groups, base_url)
        for item in found
    ]
    return Found(len(documents), documents)


async def look_up_groups(reads: Reads, token: AuthenticatedToken, query: ListQuery) -> Found | None:
    """The groups' rows (members are not read: callers ask only when none are shown)."""
    lookup = lookups.group_lookup(query)
    if lookup is None:
        return None
    found: list[GroupRecord] = await reads.groups_where(
        token.site_id, lookup.column, lookup.value, limit=query.count + 1
    )
    if len(found) > query.count:
        return None
    return Found(len(found), found)


async def read_group_without_members(
    reads: Reads, token: AuthenticatedToken, group_id: str
) -> GroupRecord:
    """GET of a group whose members are not shown (Entra ID's ``excludedAttributes=members``)."""
    found = await reads.groups_where(token.site_id, "id", group_id, limit=1)
    if not found:
        raise NotFoundError(f"No group with id {group_id!r}.")
    return found[0]
