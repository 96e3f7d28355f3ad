"""List queries (RFC 7644 §3.4.2, §3.4.3): parameters checked, then one page read in SQL.

``query_from_params`` reads a GET's query string and ``query_from_search`` a
``POST /.search`` body into the same ``ListQuery``; ``plan_user_page`` and
``plan_group_page`` turn it into the SQL parts of one page (the filter's
condition, a stable order: ``sortBy``, then ``id``; where a cursor starts),
which ``db.listings`` runs. Turning rows into SCIM resources is the mapping's
business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scim2_models import (
    InvalidCursorException,
    InvalidFilterException,
    InvalidPathException,
    InvalidValueException,
)
from scim2_models.path.expressions import AttrPath
from sqlalchemy import Select, func

from sitescim.db.dialect import Condition, Expr
from sitescim.db.listings import CursorStart, PagePlan
from sitescim.db.models import Group, User
from sitescim.scim import cursors, filtering
from sitescim.scim.attributes import (
    AttributeType,
    Complex,
    MultiValued,
    ResourceCatalog,
    Scalar,
    Unfilterable,
)
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG
from sitescim.scim.paths import parse_path, split_urn
from sitescim.scim.schemas import MULTI_VALUED, SEARCH_REQUEST_SCHEMA

MAX_COUNT = 1000
"""The most resources one page returns (ServiceProviderConfig filter.maxResults)."""

DEFAULT_COUNT = 100
"""The page size when the client names none."""


MULTI_VALUED_USER_ATTRIBUTES = tuple(name.lower() for name in MULTI_VALUED)
"""The attributes stored as ``user_values`` rows, as ``ListQuery.returns`` takes them."""


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
            _head(path) == wanted and "." not in (split_urn(path)[1] or "")
            for path in self.excluded_attributes
        )


def _head(path: str) -> str:
    """The top-level attribute a path names, lower-case, without its schema URN."""
    return (split_urn(path)[1] or "").partition(".")[0].lower()


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


def query_with_checked_filter(
    values: Mapping[str, Any], resource: ResourceCatalog, filter_text: str
) -> ListQuery:
    """``query_from_params`` of lower-cased ``values`` whose filter (not among them) is
    known to parse (scim.lookups' plain lookups): built with it, not copied to add it."""
    return _query(values, resource, checked_filter=filter_text)


def _query(
    values: Mapping[str, Any], resource: ResourceCatalog, *, checked_filter: str | None = None
) -> ListQuery:
    cursor = values.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidCursorException(detail="cursor must be a string.")
    if cursor is not None and values.get("startindex") not in (None, ""):
        raise InvalidValueException(
            detail="Use either cursor or startIndex to page, not both (RFC 9865 §2)."
        )
    filter_text = checked_filter
    if filter_text is None:
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
    path = parse_path(text)
    if path.filtered:
        raise ValueError("a value filter")
    return AttrPath(attr=path.attribute, sub_attr=path.sub, uri=path.urn)


def _sub(subs: Mapping[str, Scalar | Unfilterable], name: str, sort_by: str) -> Scalar:
    sub = subs.get(name.lower())
    if sub is None:
        raise _unsortable(sort_by, "no such attribute")
    if isinstance(sub, Unfilterable):
        raise _unsortable(sort_by, sub.reason)
    return sub


def _sortable(attribute: Scalar, sort_by: str) -> Expr:
    if attribute.kind == AttributeType.BINARY:
        raise _unsortable(sort_by, "a binary attribute")
    if attribute.kind == AttributeType.STRING and not attribute.case_exact:
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


def _order_by(
    resource: ResourceCatalog,
    query: ListQuery,
    site_id: str,
    model: type[User] | type[Group],
) -> tuple[Expr, ...]:
    """Without sortBy, creation order: pages stay put while resources are added."""
    if query.sort_by is None:
        return (model.created_at, model.id)
    key = sort_key(resource, query.sort_by, site_id=site_id)
    # RFC 7644 §3.4.2.3: resources without a value come last ascending, first descending.
    ordered = key.desc().nulls_first() if query.descending else key.asc().nulls_last()
    return (ordered, model.id)


# Page plans, run by db.listings.


def plan_user_page(site_id: str, query: ListQuery) -> PagePlan:
    """The statements' parts for a page of ``/Users``; values and groups only if shown."""
    condition = filtering.user_filter(site_id, query.filter)
    return _plan(
        USER_CATALOG,
        User,
        condition,
        site_id,
        query,
        with_values=any(query.returns(name) for name in MULTI_VALUED_USER_ATTRIBUTES),
        with_groups=query.returns("groups"),
    )


def plan_group_page(site_id: str, query: ListQuery) -> PagePlan:
    """The same for ``/Groups``; members are the caller's to read."""
    return _plan(
        GROUP_CATALOG, Group, filtering.group_filter(site_id, query.filter), site_id, query
    )


def _plan(
    resource: ResourceCatalog,
    model: type[User] | type[Group],
    condition: Condition,
    site_id: str,
    query: ListQuery,
    *,
    with_values: bool = True,
    with_groups: bool = True,
) -> PagePlan:
    return PagePlan(
        condition=condition,
        order_by=_order_by(resource, query, site_id, model),
        start_index=query.start_index,
        count=query.count,
        cursor=_cursor_start(resource, query, site_id, model),
        with_values=with_values,
        with_groups=with_groups,
    )


def _cursor_start(
    resource: ResourceCatalog, query: ListQuery, site_id: str, model: type[User] | type[Group]
) -> CursorStart | None:
    """Where a cursor page (RFC 9865) starts; a cursor of another query is refused."""
    if query.cursor is None:
        return None
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
    after = None
    if position is not None:
        after = cursors.after(position, key, model.id, descending=descending)
    return CursorStart(
        key=key,
        after=after,
        seal=lambda sort_value, row_id: cursors.encode(print_, sort_value, row_id),
    )
