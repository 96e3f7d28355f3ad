"""SCIM filters (RFC 7644 §3.4.2.2) compiled into SQL, never evaluated over all rows in Python.

scim2-models parses the filter text into its syntax tree (``Comparison``,
``Present``, ``Not``, ``LogicalExpr``, ``ValuePath``); this module walks that
tree and builds one SQLAlchemy boolean expression over the ``users`` or
``groups`` table. Multi-valued attributes (``emails``, ``groups``,
``members``, ...) become ``EXISTS`` subqueries over their rows, so a filter
stays one indexed statement however many values a resource holds. Where each
attribute is stored is ``scim.catalog``'s; one comparison of a value is
``scim.comparisons``'; what SQLite and PostgreSQL spell differently is
``db.dialect``'s.

What the compiler promises:

- the site condition is always part of the result (T10): the public functions
  take ``site_id`` and AND it in, and every subquery carries it too;
- every expression it builds is two-valued (true or false, never SQL NULL), so
  ``not (...)`` and ``ne`` agree with RFC 7644 on missing values: a user
  without a title *matches* ``title ne "x"`` and ``not (title eq "x")``;
- ``caseExact`` is respected: case-insensitive strings compare on their
  case-folded ``*_key`` column (indexed) or on ``lower()``; ``id``,
  ``externalId`` and the other case-exact attributes compare as stored;
- ``co``/``sw``/``ew`` match their operand literally (``%`` and ``_`` are not
  wildcards), and ordering operators compare by code point on every database;
- ``co``/``sw``/``ew`` on ``userName`` and on the values of multi-valued
  attributes (``emails.value``) are served by an index: on PostgreSQL a
  trigram index on exactly the compared expression, on SQLite an FTS5 trigram
  table that picks the candidate rows, which the same comparison then checks
  (so an index never changes a result, only how fast it comes);
- anything it cannot honour (an unknown attribute, ``gt`` on a boolean, a
  malformed or oversized filter) raises ``InvalidFilterException`` with a
  detail saying why, which the web layer turns into 400 ``invalidFilter``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import Select, and_, not_, or_, true

from sitescim.db.dialect import Condition, PerDialect, compare_equal, is_narrowing
from sitescim.db.models import Membership
from sitescim.scim.attributes import (
    Complex,
    MultiValued,
    ResourceCatalog,
    Scalar,
    Unfilterable,
    spell,
)
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG, members_of_groups
from sitescim.scim.comparisons import compare_scalar, match_present
from sitescim.scim.schemas import GROUP_SCHEMA

MAX_FILTER_LENGTH = 4096
"""Longer filter texts are refused before they are parsed."""

MAX_FILTER_NODES = 200
"""Filters with more expressions than this are refused: no client needs them,
and each costs a clause (or a subquery) in the statement."""


# Parsing, with limits for hostile input.


def parse_filter(text: str) -> FilterNode:
    """The syntax tree of a filter, or InvalidFilterException for bad or oversized input."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(
            detail=f"The filter is longer than {MAX_FILTER_LENGTH} characters."
        )
    if not text.strip():
        raise InvalidFilterException(detail="The filter is empty.")
    try:
        node = ScimFilter(text).ast
    except InvalidFilterException:
        raise
    except (ValueError, RecursionError) as error:
        raise InvalidFilterException(detail=f"The filter cannot be parsed: {error}") from None
    if _count_nodes(node) > MAX_FILTER_NODES:
        raise InvalidFilterException(
            detail=f"The filter has more than {MAX_FILTER_NODES} expressions."
        )
    return node


def _count_nodes(root: FilterNode) -> int:
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, LogicalExpr):
            stack.extend(node.terms)
        elif isinstance(node, Not):
            stack.append(node.expr)
        elif isinstance(node, ValuePath):
            stack.append(node.val_filter)
    return count


# Compilation.


def user_filter(site_id: str, text: str | None) -> Condition:
    """The WHERE condition for ``/Users``: the site's users matching ``text`` (all if None)."""
    return _site_filter(USER_CATALOG, site_id, text)


def group_filter(site_id: str, text: str | None) -> Condition:
    """The WHERE condition for ``/Groups``: the site's groups matching ``text`` (all if None)."""
    return _site_filter(GROUP_CATALOG, site_id, text)


def member_rows(site_id: str, group_id: str, value_filter: FilterNode) -> Select[Any]:
    """The ids of one group's membership rows that ``members[<value_filter>]`` selects.

    For a PATCH ``remove`` whose filter does not name its members by value: the
    database picks the rows, so no member is read into Python to be tested.
    """
    members = GROUP_CATALOG.schemas[GROUP_SCHEMA.lower()]["members"]
    assert isinstance(members, MultiValued)
    condition = _Compiler(GROUP_CATALOG, site_id).visit(
        value_filter, _Scope(members.subs, "members")
    )
    rows = members_of_groups(site_id).with_only_columns(Membership.id, maintain_column_froms=False)
    return rows.where(Membership.group_id == group_id, condition)


def _site_filter(resource: ResourceCatalog, site_id: str, text: str | None) -> Condition:
    if text is None:
        return resource.site_column == site_id
    condition = _Compiler(resource, site_id).visit(parse_filter(text))
    return and_(
        compare_equal(resource.site_column, site_id, narrowed=is_narrowing(condition)), condition
    )


@dataclass(frozen=True)
class _Scope:
    """Where names resolve: the resource, or the rows of a value path's attribute."""

    subs: Mapping[str, Scalar | Unfilterable] | None = None
    name: str = ""


class _Compiler:
    def __init__(self, resource: ResourceCatalog, site_id: str) -> None:
        self.resource = resource
        self.site_id = site_id

    def visit(self, node: FilterNode, scope: _Scope | None = None) -> Condition:
        scope = scope or _Scope()
        if isinstance(node, LogicalExpr):
            terms = [self.visit(term, scope) for term in node.terms]
            return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)
        if isinstance(node, Not):
            return not_(self.visit(node.expr, scope))
        if isinstance(node, ValuePath):
            return self._value_path(node, scope)
        if isinstance(node, Comparison | Present):
            if scope.subs is not None:
                return self._within(node, scope.subs, scope.name)
            return self._top(node)
        raise InvalidFilterException(detail=f"Unsupported filter expression {node}.")

    def _value_path(self, node: ValuePath, scope: _Scope) -> Condition:
        if scope.subs is not None:
            raise InvalidFilterException(detail="Value paths cannot be nested.")
        if node.sub_attr is not None:
            raise InvalidFilterException(
                detail=f"{node} selects a sub-attribute, which a filter cannot do."
            )
        attribute = self.resource.lookup(node.attr_path)
        name = spell(node.attr_path)
        if not isinstance(attribute, MultiValued):
            raise InvalidFilterException(
                detail=f"{name!r} is not a multi-valued complex attribute; '{name}[...]' needs one."
            )
        return self._any(attribute, lambda subs: self.visit(node.val_filter, _Scope(subs, name)))

    def _any(
        self,
        attribute: MultiValued,
        condition: Callable[[Mapping[str, Scalar | Unfilterable]], Condition],
    ) -> Condition:
        """Whether any value of the attribute satisfies ``condition`` (built per source)."""
        where = condition(attribute.subs)
        narrowed = is_narrowing(where)
        owners = self.resource.id_column.in_(
            attribute.rows(self.site_id, narrowed=narrowed).where(where)
        )
        return PerDialect(sqlite=owners, postgresql=owners, narrows=True) if narrowed else owners

    def _top(self, node: Comparison | Present) -> Condition:
        path = node.attr_path
        attribute = self.resource.lookup(path)
        name = spell(path)
        if isinstance(attribute, Unfilterable):
            raise InvalidFilterException(detail=f"{name!r} cannot be filtered: {attribute.reason}.")
        if isinstance(attribute, Scalar):
            if path.sub_attr is not None:
                raise InvalidFilterException(
                    detail=f"{_head(path)!r} has no sub-attribute {path.sub_attr!r}."
                )
            return compare_scalar(node, attribute, name)
        if isinstance(attribute, Complex):
            if path.sub_attr is None:
                if isinstance(node, Present):
                    return _complex_present(attribute)
                raise InvalidFilterException(
                    detail=f"{name!r} is complex; compare one of its sub-attributes."
                )
            return compare_scalar(node, _sub(attribute.subs, path.sub_attr, name), name)
        # Multi-valued, outside a value path.
        if path.sub_attr is None:
            if isinstance(node, Present):
                return self._any(attribute, lambda subs: true())
            # RFC 7643 §2.4: a comparison on the attribute itself means its "value".
            if "value" not in attribute.subs:
                raise InvalidFilterException(
                    detail=f"{name!r} has no 'value'; compare one of its sub-attributes."
                )
        sub_name = path.sub_attr or "value"
        _sub(attribute.subs, sub_name, name)  # refuse an unknown name up front
        compared = self._any(
            attribute, lambda subs: compare_scalar(node, _sub(subs, sub_name, name), name)
        )
        if isinstance(node, Comparison) and node.op == CompareOperator.ne:
            # RFC 7644 §3.4.2.2: a multi-valued attribute matches when ANY value
            # does, so ne holds when some value differs (scim2-models reads "no
            # value equals"); with no value at all it holds, as for a missing title.
            return or_(compared, not_(self._any(attribute, lambda subs: true())))
        return compared

    def _within(
        self, node: Comparison | Present, subs: Mapping[str, Scalar | Unfilterable], owner: str
    ) -> Condition:
        path = node.attr_path
        if path.uri is not None or path.sub_attr is not None:
            raise InvalidFilterException(
                detail=f"Inside {owner}[...] name a sub-attribute of {owner} alone, not {path}."
            )
        name = f"{owner}.{path.attr}"
        return compare_scalar(node, _sub(subs, path.attr, name), name)


def _head(path: AttrPath) -> str:
    return str(AttrPath(path.attr, None, path.uri))


def _sub(subs: Mapping[str, Scalar | Unfilterable], sub_name: str, name: str) -> Scalar:
    sub = subs.get(sub_name.lower())
    if sub is None:
        raise InvalidFilterException(detail=f"Unknown attribute {name!r} in the filter.")
    if isinstance(sub, Unfilterable):
        raise InvalidFilterException(detail=f"{name!r} cannot be filtered: {sub.reason}.")
    return sub


def _complex_present(attribute: Complex) -> Condition:
    if attribute.always_present:
        return true()
    scalars = [sub for sub in attribute.subs.values() if isinstance(sub, Scalar)]
    return or_(*(match_present(sub) for sub in scalars))
