"""List queries (RFC 7644 §3.4.2, §3.4.3): parameters checked, then one page read in SQL.

``query_from_params`` reads a GET's query string and ``query_from_search`` a
``POST /.search`` body into the same ``ListQuery``; ``list_users`` and
``list_groups`` run it: ``COUNT(*)`` over the filtered rows for
``totalResults``, then the page in a stable order (``sortBy``, then ``id``)
with OFFSET/LIMIT, and for users their values and groups in one IN query each.
Turning rows into SCIM resources is mapping.py's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scim2_models import InvalidFilterException, InvalidPathException, InvalidValueException
from scim2_models.path.expressions import AttrPath
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sitescim.db.models import Group, Membership, User, UserValue
from sitescim.scim import filtering
from sitescim.scim.filtering import (
    GROUPS,
    USERS,
    Complex,
    Expr,
    Kind,
    MultiValued,
    Resource,
    Scalar,
    Unfilterable,
)
from sitescim.scim.mapping import GroupRef

MAX_COUNT = 1000
"""The most resources one page returns (ServiceProviderConfig filter.maxResults)."""

DEFAULT_COUNT = 100
"""The page size when the client names none."""

SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

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


def query_from_params(params: Mapping[str, str], resource: Resource) -> ListQuery:
    """The query of ``GET /Users`` or ``GET /Groups`` (parameter names case-insensitive)."""
    values = {name.lower(): value for name, value in params.items()}
    return _query(values, resource)


def query_from_search(body: Any, resource: Resource) -> ListQuery:
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


def _query(values: Mapping[str, Any], resource: Resource) -> ListQuery:
    if values.get("cursor") is not None:
        raise InvalidValueException(
            detail="Cursor pagination is not supported; use startIndex and count."
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
        start_index=1 if start is None else max(1, start),
        count=DEFAULT_COUNT if count is None else min(max(0, count), MAX_COUNT),
        attributes=attributes,
        excluded_attributes=excluded,
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


def sort_key(resource: Resource, sort_by: str, *, site_id: str) -> Expr:
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


def _first_value(resource: Resource, attribute: MultiValued, target: Expr, site_id: str) -> Expr:
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
    resource: Resource,
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


# Running the query.


@dataclass
class UserPage:
    """One page of users, with what mapping.user_to_scim needs for each."""

    total: int
    users: Sequence[User]
    values: dict[str, list[UserValue]] = field(default_factory=dict)
    groups: dict[str, list[GroupRef]] = field(default_factory=dict)


@dataclass
class GroupPage:
    """One page of groups; members are read by the caller, and only if shown."""

    total: int
    groups: Sequence[Group]


def list_users(session: Session, site_id: str, query: ListQuery) -> UserPage:
    condition = filtering.user_filter(site_id, query.filter)
    total = session.scalar(select(func.count()).select_from(User).where(condition)) or 0
    if query.count == 0 or query.start_index > total:
        return UserPage(total=total, users=[])
    statement = _ordered(
        select(User).where(condition), USERS, query, site_id, User.id, User.created_at
    )
    users = session.scalars(statement.offset(query.start_index - 1).limit(query.count)).all()
    page = UserPage(total=total, users=users)
    ids = [user.id for user in users]
    page.values = {user_id: [] for user_id in ids}
    page.groups = {user_id: [] for user_id in ids}
    if ids and any(query.returns(name) for name in MULTI_VALUED_USER_ATTRIBUTES):
        rows = session.scalars(
            select(UserValue)
            .where(UserValue.user_id.in_(ids))  # ids are this site's; the user_id index serves
            .order_by(UserValue.user_id, UserValue.attribute, UserValue.position, UserValue.id)
        )
        for row in rows:
            page.values[row.user_id].append(row)
    if ids and query.returns("groups"):
        memberships = session.execute(
            select(Membership.user_id, Group.id, Group.display_name)
            .join(Group, Group.id == Membership.group_id)
            .where(Membership.site_id == site_id, Membership.user_id.in_(ids))
            .order_by(Membership.user_id, Group.display_name_key, Group.id)
        )
        for user_id, group_id, display in memberships:
            page.groups[str(user_id)].append(GroupRef(id=group_id, display=display))
    return page


def list_groups(session: Session, site_id: str, query: ListQuery) -> GroupPage:
    """Groups only: members are read by the caller, when ``query.returns_members``."""
    condition = filtering.group_filter(site_id, query.filter)
    total = session.scalar(select(func.count()).select_from(Group).where(condition)) or 0
    if query.count == 0 or query.start_index > total:
        return GroupPage(total=total, groups=[])
    statement = _ordered(
        select(Group).where(condition), GROUPS, query, site_id, Group.id, Group.created_at
    )
    groups = session.scalars(statement.offset(query.start_index - 1).limit(query.count)).all()
    return GroupPage(total=total, groups=groups)
