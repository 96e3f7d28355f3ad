"""List pages served by the hot reader, their documents written by the database (scim.pages).

A page shown whole (no ``attributes``; for groups at most
``excludedAttributes=members``) is one statement on the hot reader's
connection, off the ORM and, on PostgreSQL, off the thread pool. Anything else
returns None and takes the general path (services.users / services.groups).
The site is always the token's (T10).
"""

from __future__ import annotations

from dataclasses import dataclass

from sitescim.db.reads import Reads
from sitescim.scim import cursors, pages
from sitescim.scim.listing import ListQuery
from sitescim.services.tokens import AuthenticatedToken


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A page whose resources are JSON texts already, in order."""

    total: int
    start_index: int | None  # None when a cursor pages (RFC 9865)
    documents: list[str]
    next_cursor: str | None = None


async def read_user_page(
    reads: Reads, token: AuthenticatedToken, query: ListQuery, *, base_url: str
) -> EncodedPage | None:
    """The page of users, or None when a selection asks for the general path."""
    if query.attributes or query.excluded_attributes:
        return None
    return await _read(reads, token.site_id, query, base_url=base_url.rstrip("/"), groups=False)


async def read_group_page(
    reads: Reads,
    token: AuthenticatedToken,
    query: ListQuery,
    *,
    base_url: str,
    with_members: bool,
) -> EncodedPage:
    """The page of groups; the caller checked that the selection is at most ``members``."""
    return await _read(
        reads, token.site_id, query, base_url=base_url, groups=True, members=with_members
    )


async def read_site_page(
    reads: Reads, site_id: str, query: ListQuery, *, base_url: str, groups: bool
) -> EncodedPage:
    """A page of a site's users, or of its groups without members, for an operator key
    (services.reconciliation); the caller has checked that the key may read the site."""
    return await _read(reads, site_id, query, base_url=base_url, groups=groups, members=False)


async def _read(
    reads: Reads,
    site_id: str,
    query: ListQuery,
    *,
    base_url: str,
    groups: bool,
    members: bool = True,
) -> EncodedPage:
    statement, position, print_ = pages.page_statement(
        reads.dialect, query, groups=groups, with_members=members
    )
    paging_by_cursor = query.cursor is not None
    limit = query.count + 1 if paging_by_cursor and query.count > 0 else query.count
    params = statement.params(
        site_id,
        base_url=base_url,
        limit=limit,
        offset=query.start_index - 1,
        after=position,
    )
    rows = await reads.rows(statement.sql, params)
    total = int(rows[0][0]) if rows else 0
    documents = statement.documents(rows, base_url=base_url)
    if not paging_by_cursor:
        return EncodedPage(total, query.start_index, documents)
    next_cursor = None
    if len(documents) > query.count > 0:
        assert print_ is not None
        last = [row for row in rows if row[3] is not None][query.count - 1]
        key = statement.sort_value(last[2])
        next_cursor = cursors.encode(print_, key, last[3])
    return EncodedPage(total, None, documents[: query.count], next_cursor)
