"""List queries (RFC 7644 §3.4.2, §3.4.3): parameters checked, then one page read in SQL.

``query_from_params`` reads a GET's query string and ``query_from_search`` a
``POST /.search`` body into the same ``ListQuery``; ``list_users`` and
``list_groups`` run it: ``COUNT(*)`` over the filtered rows for
``totalResults``, then the page in a stable order (``sortBy``, then ``id``)
with OFFSET/LIMIT, and for users their values and groups in one IN query each.
A page of users is read as ids first, then those rows by primary key: each
statement has one plan shape that stays linear whatever the planner's estimates
(no join on a LIMIT subquery that a planner may re-run per row).
Turning rows into SCIM resources is mapping.py's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scim2_models import (
    InvalidCursorException,
    InvalidFilterException,
    InvalidPathException,
    InvalidValueException,
)
from scim2_models.path.expressions import AttrPath
from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from sitescim.db import repositories as repo
from sitescim.db.dialect import Expr
from sitescim.db.models import Group, User
from sitescim.scim import cursors, filtering
from sitescim.scim.catalog import (
    GROUP_CATALOG,
    USER_CATALOG,
    Complex,
    Kind,
    MultiValued,
    ResourceCatalog,
    Scalar,
    Unfilterable,
)
from sitescim.scim.mapping import GroupRef
from sitescim.scim.schemas import SEARCH_REQUEST_SCHEMA

MAX_COUNT = 1000
"""The most resources one page returns (ServiceProviderConfig filter.maxResults)."""

DEFAULT_COUNT = 100
"""The page size when the client names none."""


MULTI_VALUED_USER_ATTRIBUTES = (
    "emails",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509certificates",
)


@dataclass(frozen=True)
class ListQuery:
    """A checked list query: what to match, in which order, which page, which attributes."""

    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start_index: int = 1
    count: int = DEFAULT_COUNT
    attributes: tuple[str, ...] = ()
    excluded_attributes: tuple[str, ...] = ()
    cursor: str | None = None
    """None: index pagination; "" asks for the first page of a cursor walk (RFC 9865)."""
    cursor_key: bytes = field(default=b"", repr=False)
    """The server's key that seals cursors (Settings.cursor_key); set by the web layer."""

    def returns(self, attribute: str) -> bool:
        """Whether the response shows ``attribute`` (a top-level name), so whether to load it.

        ``attributes`` must name it or one of its sub-attributes;
        ``excludedAttributes`` must not name it as a whole. Names compare
        case-insensitively, with or without their schema URN.
        """
        wanted = attribute.lower()
        if self.attributes:
            return any(_head(path) == wanted for path in self.attributes)
        return not any(
            _head(path) == wanted and "." not in _without_urn(path)
            for path in self.excluded_attributes
        )

    @property
    def returns_members(self) -> bool:
        """False for ``excludedAttributes=members``: then no member row is read at all."""
        return self.returns("members")


def _without_urn(path: str) -> str:
    return path.rpartition(":")[2] if path.lower().startswith("urn:") else path


def _head(path: str) -> str:
    return _without_urn(path).partition(".")[0].lower()


# Reading the parameters.


def query_from_params(params: Mapping[str, str], resource: ResourceCatalog) -> ListQuery:
    """The query of ``GET /Users`` or ``GET /Groups`` (parameter names case-insensitive)."""
    values = {name.lower(): value for name, value in params.items()}
    return _query(values, resource)


def query_from_search(body: Any, resource: ResourceCatalog) -> ListQuery:
    """The query of ``POST /.search``: a SearchRequest body (RFC 7644 §3.4.3)."""
    if not isinstance(body, Mapping):
        raise InvalidValueException(detail="A search request is a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (
        not isinstance(schemas, list)
        or SEARCH_REQUEST_SCHEMA.lower() not in {str(item).lower() for item in schemas}
    ):
        raise InvalidValueException(detail=f"schemas must include {SEARCH_REQUEST_SCHEMA!r}.")
    values = {str(name).lower(): value for name, value in body.items() if name != "schemas"}
    return _query(values, resource)


MAX_START_INDEX = 2**62
"""Past any result set; bounded so the OFFSET fits a 64-bit integer."""


def _query(values: Mapping[str, Any], resource: ResourceCatalog) -> ListQuery:
    cursor = values.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidCursorException(detail="cursor must be a string.")
    if cursor is not None and values.get("startindex") not in (None, ""):
        raise InvalidValueException(
            detail="Use either cursor or startIndex to page, not both (RFC 9865 §2)."
        )
    filter_text = _text(values.get("filter"), "filter")
    if filter_text is not None:
        filtering.parse_filter(filter_text)  # InvalidFilterException now, not mid-query
    sort_by = _text(values.get("sortby"), "sortBy")
    if sort_by is not None:
        sort_key(resource, sort_by, site_id="")  # refuse an unknown attribute now
    sort_order = _text(values.get("sortorder"), "sortOrder")
    if sort_order is not None and sort_order.lower() not in ("ascending", "descending"):
        raise InvalidValueException(detail="sortOrder is 'ascending' or 'descending'.")
    start = _integer(values.get("startindex"), "startIndex")
    count = _integer(values.get("count"), "count")
    attributes = _names(values.get("attributes"), "attributes")
    excluded = _names(values.get("excludedattributes"), "excludedAttributes")
    if attributes and excluded:
        raise InvalidValueException(
            detail="attributes and excludedAttributes cannot be used together."
        )
    return ListQuery(
        filter=filter_text,
        sort_by=sort_by,
        descending=sort_order is not None and sort_order.lower() == "descending",
        # RFC 7644 §3.4.2.4: startIndex below 1 reads as 1, a negative count as 0.
        start_index=1 if start is None else min(max(1, start), MAX_START_INDEX),
        count=DEFAULT_COUNT if count is None else min(max(0, count), MAX_COUNT),
        attributes=attributes,
        excluded_attributes=excluded,
        cursor=cursor.strip() if cursor is not None else None,
    )


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueException(detail=f"{name} must be a string.")
    return value if value.strip() else None


def _integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidValueException(detail=f"{name} must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidValueException(detail=f"{name} must be an integer, not {value!r}.")


def _names(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise InvalidValueException(detail=f"{name} is a comma-separated list of attributes.")
    return tuple(part.strip() for item in items for part in item.split(",") if part.strip())


# Sorting.


def sort_key(resource: ResourceCatalog, sort_by: str, *, site_id: str) -> Expr:
    """The expression to order by for ``sortBy`` (RFC 7644 §3.4.2.3).

    Case-insensitive strings sort on their folded form. A multi-valued
    attribute sorts by its primary value, else its first one. An attribute a
    resource cannot sort on raises InvalidPathException.
    """
    try:
        path = _attr_path(sort_by)
        attribute = resource.lookup(path)
    except (ValueError, InvalidFilterException):
        raise _unsortable(sort_by, "no such attribute") from None
    if isinstance(attribute, Unfilterable):
        raise _unsortable(sort_by, attribute.reason)
    if isinstance(attribute, Scalar):
        if path.sub_attr is not None:
            raise _unsortable(sort_by, "no such attribute")
        return _sortable(attribute, sort_by)
    sub_name = path.sub_attr or "value"
    if isinstance(attribute, Complex):
        if path.sub_attr is None:
            raise _unsortable(sort_by, "a complex attribute; sort on a sub-attribute")
        return _sortable(_sub(attribute.subs, sub_name, sort_by), sort_by)
    sub = _sub(attribute.subs, sub_name, sort_by)
    return _first_value(resource, attribute, _sortable(sub, sort_by), site_id)


def _attr_path(text: str) -> AttrPath:
    uri: str | None = None
    remainder = text.strip()
    if remainder.lower().startswith("urn:"):
        uri, _, remainder = remainder.rpartition(":")
    attr, _, sub_attr = remainder.partition(".")
    return AttrPath(attr=attr, sub_attr=sub_attr or None, uri=uri)


def _sub(subs: Mapping[str, Scalar | Unfilterable], name: str, sort_by: str) -> Scalar:
    sub = subs.get(name.lower())
    if sub is None:
        raise _unsortable(sort_by, "no such attribute")
    if isinstance(sub, Unfilterable):
        raise _unsortable(sort_by, sub.reason)
    return sub


def _sortable(attribute: Scalar, sort_by: str) -> Expr:
    if attribute.kind == Kind.BINARY:
        raise _unsortable(sort_by, "a binary attribute")
    if attribute.kind == Kind.STRING and not attribute.case_exact:
        return func.lower(attribute.column) if attribute.key is None else attribute.key
    return attribute.column


def _first_value(
    resource: ResourceCatalog, attribute: MultiValued, target: Expr, site_id: str
) -> Expr:
    rows: Select[Any] = (
        attribute.rows(site_id)
        .where(attribute.owner == resource.id_column)
        .with_only_columns(target)
    )
    return rows.order_by(*attribute.ordering).limit(1).scalar_subquery()


def _unsortable(sort_by: str, reason: str) -> InvalidPathException:
    return InvalidPathException(path=sort_by, detail=f"Cannot sort on {sort_by!r}: {reason}.")


def _ordered(
    statement: Select[Any],
    resource: ResourceCatalog,
    query: ListQuery,
    site_id: str,
    id_column: Any,
    created_column: Any,
) -> Select[Any]:
    """Without sortBy, creation order: pages stay put while resources are added."""
    if query.sort_by is None:
        return statement.order_by(created_column, id_column)
    key = sort_key(resource, query.sort_by, site_id=site_id)
    # RFC 7644 §3.4.2.3: resources without a value come last ascending, first descending.
    ordered = key.desc().nulls_first() if query.descending else key.asc().nulls_last()
    return statement.order_by(ordered, id_column)


# Cursor pages (RFC 9865).


def _cursor_page(
    session: Session,
    statement: Select[Any],
    resource: ResourceCatalog,
    query: ListQuery,
    site_id: str,
    model: type[User] | type[Group],
) -> tuple[Sequence[Row[Any]], str | None]:
    """One page after the cursor's position, and the cursor of the next, if any.

    One row more than asked tells whether a next page exists without a second query.
    """
    assert query.cursor is not None
    if query.sort_by is None:
        key: Expr = model.created_at
        descending = False
    else:
        key = sort_key(resource, query.sort_by, site_id=site_id)
        descending = query.descending
    print_ = cursors.fingerprint(
        query.cursor_key, resource.name, query.filter, query.sort_by, descending
    )
    position = cursors.decode(print_, query.cursor)
    if position is not None:
        statement = statement.where(cursors.after(position, key, model.id, descending=descending))
    statement = _ordered(
        statement.add_columns(key.label("page_key"), model.id.label("page_id")),
        resource,
        query,
        site_id,
        model.id,
        model.created_at,
    )
    rows = session.execute(statement.limit(query.count + 1)).all()
    if len(rows) <= query.count or query.count == 0:
        return rows[: query.count], None
    last = rows[query.count - 1]
    return rows[: query.count], cursors.encode(print_, last.page_key, last.page_id)


# Running the query.


@dataclass
class UserPage:
    """One page of users as rows, with what mapping.user_document needs for each."""

    total: int
    users: Sequence[Row[Any]]
    values: dict[str, list[Row[Any]]] = field(default_factory=dict)
    groups: dict[str, list[GroupRef]] = field(default_factory=dict)
    next_cursor: str | None = None


@dataclass
class GroupPage:
    """One page of groups; members are read by the caller, and only if shown."""

    total: int
    groups: Sequence[Group]
    next_cursor: str | None = None


def list_users(session: Session, site_id: str, query: ListQuery) -> UserPage:
    condition = filtering.user_filter(site_id, query.filter)
    total = session.scalar(select(func.count()).select_from(User).where(condition)) or 0
    if query.cursor is not None:
        users, next_cursor = _cursor_page(
            session, select(repo.USER_ROWS).where(condition), USER_CATALOG, query, site_id, User
        )
        return _with_values(
            session, site_id, query, UserPage(total, users, next_cursor=next_cursor)
        )
    if query.count == 0 or query.start_index > total:
        return UserPage(total=total, users=[])
    # The page's ids first, from the ordering index alone (a covering index in
    # creation order); then only those rows, by primary key. Two statements, not
    # a join on a subquery: a planner without statistics once re-ran that
    # subquery per user row, which made a page at 10,000 users take seconds.
    window = _ordered(
        select(User.id).where(condition), USER_CATALOG, query, site_id, User.id, User.created_at
    )
    ids = session.scalars(window.offset(query.start_index - 1).limit(query.count)).all()
    users = _users_by_id(session, site_id, ids)
    return _with_values(session, site_id, query, UserPage(total=total, users=users))


# By primary key alone: with a site condition too, a planner without statistics
# takes the site's index and filters every user of the site for the hundred ids.
_USERS_BY_IDS = select(repo.USER_ROWS).where(
    repo.USER_ROWS.c.id.in_(bindparam("ids", expanding=True))
)


def _users_by_id(session: Session, site_id: str, ids: Sequence[str]) -> list[Row[Any]]:
    """The rows of ``ids``, in that order (the page's order, already decided).

    The ids come from a statement scoped to the site; the site is checked again
    here all the same (T10).
    """
    if not ids:
        return []
    rows = {row.id: row for row in session.execute(_USERS_BY_IDS, {"ids": list(ids)})}
    return [
        rows[user_id] for user_id in ids if user_id in rows and rows[user_id].site_id == site_id
    ]


def _with_values(session: Session, site_id: str, query: ListQuery, page: UserPage) -> UserPage:
    """The page's multi-valued attributes and groups, one IN query each, if shown."""
    ids = [user.id for user in page.users]
    page.values = {user_id: [] for user_id in ids}
    page.groups = {user_id: [] for user_id in ids}
    if ids and any(query.returns(name) for name in MULTI_VALUED_USER_ATTRIBUTES):
        for row in repo.list_user_values(session, ids):
            page.values[row.user_id].append(row)
    if ids and query.returns("groups"):
        for user_id, group_id, display in repo.list_user_groups(session, site_id, ids):
            page.groups[user_id].append(GroupRef(id=group_id, display=display))
    return page


def list_groups(session: Session, site_id: str, query: ListQuery) -> GroupPage:
    """Groups only: members are read by the caller, when ``query.returns_members``."""
    condition = filtering.group_filter(site_id, query.filter)
    total = session.scalar(select(func.count()).select_from(Group).where(condition)) or 0
    if query.cursor is not None:
        rows, next_cursor = _cursor_page(
            session, select(Group).where(condition), GROUP_CATALOG, query, site_id, Group
        )
        return GroupPage(total=total, groups=[row[0] for row in rows], next_cursor=next_cursor)
    if query.count == 0 or query.start_index > total:
        return GroupPage(total=total, groups=[])
    statement = _ordered(
        select(Group).where(condition), GROUP_CATALOG, query, site_id, Group.id, Group.created_at
    )
    groups = session.scalars(statement.offset(query.start_index - 1).limit(query.count)).all()
    return GroupPage(total=total, groups=groups)
