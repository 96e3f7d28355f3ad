"""SCIM filters (RFC 7644 §3.4.2.2) compiled into SQL, never evaluated over all rows in Python.

scim2-models parses the filter text into its syntax tree (``Comparison``,
``Present``, ``Not``, ``LogicalExpr``, ``ValuePath``); this module walks that
tree and builds one SQLAlchemy boolean expression over the ``users`` or
``groups`` table. Multi-valued attributes (``emails``, ``groups``,
``members``, ...) become ``EXISTS`` subqueries over their rows, so a filter
stays one indexed statement however many values a resource holds.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError
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
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import coercions, operators, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import (
    AsBoolean,
    BooleanClauseList,
    Grouping,
    SQLColumnExpression,
    UnaryExpression,
)
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType

from sitescim.db.models import (
    USER_NAME_TRIGRAM_ROWS,
    USER_NAME_TRIGRAMS,
    USER_VALUE_TRIGRAMS,
    Group,
    Membership,
    User,
    UserValue,
)

MAX_FILTER_LENGTH = 4096
"""Longer filter texts are refused before they are parsed."""

MAX_FILTER_NODES = 200
"""Filters with more expressions than this are refused: no client needs them,
and each costs a clause (or a subquery) in the statement."""

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SITESCIM_SCHEMA = "urn:sitescim:params:scim:schemas:extension:sitescim:2.0:User"

Expr = SQLColumnExpression[Any]
Condition = ColumnElement[bool]


def fold(value: str) -> str:
    """The case-folded form stored in the ``*_key`` columns (and compared against them)."""
    return value.casefold()


# Dialect-specific spellings, chosen at compile time so one statement object
# (and SQLAlchemy's statement cache) serves SQLite and PostgreSQL alike.


class _PerDialect(ColumnElement[bool]):
    """A condition written one way for SQLite and another for PostgreSQL."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    # The base class declares it as a list; the cache key is built from it.
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012
        ("sqlite", InternalTraversal.dp_clauseelement),
        ("postgresql", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, *, sqlite: Condition, postgresql: Condition, narrows: bool = False) -> None:
        self.sqlite = sqlite
        self.postgresql = postgresql
        self.narrows = narrows
        """True when SQLite's branch picks its rows through a trigram table (see _narrows)."""


def _narrows(condition: Condition) -> bool:
    """Whether ``condition`` is, or ANDs in, a trigram match that should drive the query.

    SQLite without statistics (a production file has none) takes any equality
    index over an ``IN (trigram matches)`` rowid lookup, and then walks the whole
    site slice checking each row against the matches. The site and attribute
    equalities of such a query are therefore written so no index can serve them
    (``+column``) on SQLite, leaving the trigram matches to drive. Under an OR
    or a NOT the matches narrow nothing, so nothing changes there.
    """
    element: Any = condition
    while isinstance(element, AsBoolean | Grouping):  # how and_() wraps its clauses
        if isinstance(element, AsBoolean) and element.operator is not operators.is_true:
            return False  # not_() of a condition is the same wrapper, negated
        element = element.element
    if isinstance(element, _PerDialect):
        return element.narrows
    if isinstance(element, BooleanClauseList) and element.operator is operators.and_:
        return any(_narrows(clause) for clause in element.clauses)
    return False


def _equal(column: Expr, value: str, *, narrowed: bool) -> Condition:
    """``column = value``; on SQLite under a trigram match, one that no index serves."""
    equal: Condition = column == value
    if not narrowed:
        return equal
    element: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)
    unindexed = UnaryExpression(element, operator=operators.custom_op("+"), type_=element.type)
    return _PerDialect(sqlite=unindexed == value, postgresql=equal)


# In parentheses: a branch may be an AND, and NOT (or anything around it) must
# apply to the whole branch.


@compiles(_PerDialect)
def _compile_default(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.sqlite, **kw)})"


@compiles(_PerDialect, "postgresql")
def _compile_postgresql(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.postgresql, **kw)})"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _escape_glob(value: str) -> str:
    # In a GLOB pattern a bracket expression holds its character literally.
    return "".join(f"[{char}]" if char in "*?[" else char for char in value)


def _substring_match(
    target: Expr, op: CompareOperator, operand: str, *, trigrams: Trigrams | None = None
) -> Condition:
    """``co``/``sw``/``ew`` with the operand taken literally and case-sensitively.

    Callers fold both sides first when the attribute is not case-exact. SQLite's
    LIKE ignores ASCII case, so SQLite gets GLOB (case-sensitive, and still
    index-assisted for a prefix); PostgreSQL gets LIKE with escapes. With
    ``trigrams``, SQLite first narrows the rows through its FTS5 trigram table
    (a superset of the matches), then GLOB decides, as without it.
    """
    before = "" if op == CompareOperator.sw else "%"
    after = "" if op == CompareOperator.ew else "%"
    glob_before = "" if op == CompareOperator.sw else "*"
    glob_after = "" if op == CompareOperator.ew else "*"
    glob: Condition = target.op("GLOB", is_comparison=True)(
        glob_before + _escape_glob(operand) + glob_after
    )
    like = target.like(before + _escape_like(operand) + after, escape="\\")
    query = trigram_query(operand) if trigrams is not None else None
    if trigrams is None or query is None:
        return _PerDialect(sqlite=glob, postgresql=like)
    return _PerDialect(sqlite=and_(trigrams.rows(query), glob), postgresql=like, narrows=True)


def trigram_query(operand: str) -> str | None:
    """The FTS5 query for ``operand`` as a literal substring, or None if FTS5 cannot serve it.

    One double-quoted FTS5 string, quotes inside doubled: ``*``, ``OR``,
    ``NEAR(``, ``^``, ``:`` and the like are then text, never query syntax. The
    trigram tokenizer matches nothing for fewer than three characters, and the
    query text ends at a NUL: those operands are answered by the scan instead.
    """
    if len(operand) < 3 or "\x00" in operand:
        return None
    return '"' + operand.replace('"', '""') + '"'


_ORDERING = {
    CompareOperator.gt: lambda a, b: a > b,
    CompareOperator.ge: lambda a, b: a >= b,
    CompareOperator.lt: lambda a, b: a < b,
    CompareOperator.le: lambda a, b: a <= b,
}


def _ordering(target: Expr, op: CompareOperator, operand: Any, *, text: bool) -> Condition:
    """An ordering comparison; strings compare by code point, as SCIM clients expect.

    SQLite's default collation already is binary; PostgreSQL's depends on the
    database locale, so strings are compared under ``COLLATE "C"`` there.
    """
    compare: Callable[[Any, Any], Condition] = _ORDERING[op]
    if not text:
        return compare(target, operand)
    return _PerDialect(
        sqlite=compare(target, operand),
        postgresql=compare(target.collate("C"), operand),
    )


# The catalog: which column or subquery holds each SCIM attribute.


class Kind(Enum):
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "dateTime"
    BINARY = "binary"


@dataclass(frozen=True)
class Trigrams:
    """SQLite's FTS5 trigram table for an attribute (see db.models: USER_VALUE_TRIGRAMS).

    ``rows(query)`` is the condition, on the attribute's own table, that a row
    is among the FTS5 table's matches for ``query``: a superset of the rows
    whose compared text holds the substring, the text the table indexes being
    exactly that compared text. PostgreSQL needs none: its trigram indexes are
    on the compared expressions themselves.
    """

    rows: Callable[[str], Condition]
    prefix_indexed: bool = False
    """True when a B-tree on the compared column already serves ``sw``."""


@dataclass(frozen=True)
class Scalar:
    """A simple attribute (or sub-attribute) held by one column or SQL expression.

    ``key`` is the case-folded, indexed copy of a case-insensitive string;
    without one, such a string is compared through ``lower()``. ``required``
    columns are never NULL, which spares a guard and keeps plans simple.
    ``either`` lists columns of which exactly one is set (a member is a user
    or a group): equality then tests each, so each one's index can answer.
    """

    kind: Kind
    column: Expr
    case_exact: bool = False
    key: Expr | None = None
    required: bool = False
    either: tuple[Expr, ...] = ()
    key_limit: int | None = None
    """Values longer than this have no key (NULL); they are compared through lower()."""
    trigrams: Trigrams | None = None


@dataclass(frozen=True)
class Unfilterable:
    """An attribute of the schema that filters cannot use, and why."""

    reason: str


@dataclass(frozen=True)
class Complex:
    """A single-valued complex attribute (``name``, ``meta``, ``manager``)."""

    subs: Mapping[str, Scalar | Unfilterable]
    always_present: bool = False


class Rows(Protocol):
    """The owners' ids of a site's rows of a multi-valued attribute (see MultiValued)."""

    def __call__(self, site_id: str, *, narrowed: bool = False) -> Select[Any]: ...


@dataclass(frozen=True)
class MultiValued:
    """A multi-valued attribute: rows of another table, tested with ``id IN (...)``.

    ``rows(site_id)`` selects the owners' ids (``owner``) of the site's rows of
    this attribute; a filter adds its WHERE. ``IN`` rather than a correlated
    EXISTS lets SQLite start from the value index instead of scanning users.
    """

    rows: Rows
    """``narrowed``: a trigram match will drive the query (see _narrows)."""
    owner: Expr
    subs: Mapping[str, Scalar | Unfilterable]
    ordering: tuple[Expr, ...] = ()
    """How its values are ordered, so sorting can take the primary, else the first."""


Attribute = Scalar | Complex | MultiValued | Unfilterable


@dataclass(frozen=True)
class Resource:
    """The filterable attributes of a resource type, keyed by lower-case schema and name."""

    name: str
    core_schema: str
    site_column: Expr
    id_column: Expr
    schemas: Mapping[str, Mapping[str, Attribute]] = field(default_factory=dict)

    def lookup(self, path: AttrPath) -> Attribute:
        schema = (path.uri or self.core_schema).lower()
        attributes = self.schemas.get(schema)
        if attributes is None:
            raise InvalidFilterException(
                detail=f"Unknown schema {path.uri!r} in a {self.name} filter."
            )
        attribute = attributes.get(path.attr.lower())
        if attribute is None:
            raise InvalidFilterException(
                detail=f"Unknown attribute {_spelled(path)!r} in a {self.name} filter."
            )
        return attribute


def _spelled(path: AttrPath) -> str:
    return str(path)


def _string(column: Expr, *, key: Expr | None = None, required: bool = False) -> Scalar:
    return Scalar(Kind.STRING, column, key=key, required=required)


def _exact(column: Expr, *, required: bool = False) -> Scalar:
    return Scalar(Kind.STRING, column, case_exact=True, required=required)


_VALUE_ORDER: tuple[Expr, ...] = (
    func.coalesce(UserValue.primary, False).desc(),
    UserValue.position,
    UserValue.id,
)
# "primary" is stored as sent: true, false, or NULL when the client sent none.
_PRIMARY = Scalar(Kind.BOOLEAN, UserValue.primary)
VALUE_KEY_LIMIT = 512
_VALUE_TRIGRAMS = Trigrams(
    rows=lambda query: UserValue.id.in_(
        select(USER_VALUE_TRIGRAMS.c.rowid).where(USER_VALUE_TRIGRAMS.c.folded_value.match(query))
    )
)
_VALUE = Scalar(
    Kind.STRING,
    UserValue.value,
    key=UserValue.value_key,
    key_limit=VALUE_KEY_LIMIT,
    trigrams=_VALUE_TRIGRAMS,
)
_NO_REF = Unfilterable("$ref is derived from the request's URL and cannot be filtered")


def _user_values(attribute: str) -> Rows:
    def rows(site_id: str, *, narrowed: bool = False) -> Select[Any]:
        return select(UserValue.user_id).where(
            _equal(UserValue.site_id, site_id, narrowed=narrowed),
            _equal(UserValue.attribute, attribute, narrowed=narrowed),
        )

    return rows


def _plural(attribute: str, *, value: Scalar | None = None) -> MultiValued:
    """emails, phoneNumbers, ims, photos, entitlements, roles, x509Certificates."""
    return MultiValued(
        rows=_user_values(attribute),
        owner=UserValue.user_id,
        ordering=_VALUE_ORDER,
        subs={
            "value": value or _VALUE,
            "display": _string(UserValue.display),
            "type": _string(UserValue.type),
            "primary": _PRIMARY,
        },
    )


def _address_part(name: str) -> Scalar:
    return _string(UserValue.extra[name].as_string())


_ADDRESSES = MultiValued(
    rows=_user_values("addresses"),
    owner=UserValue.user_id,
    ordering=_VALUE_ORDER,
    subs={
        "formatted": _address_part("formatted"),
        "streetaddress": _address_part("streetAddress"),
        "locality": _address_part("locality"),
        "region": _address_part("region"),
        "postalcode": _address_part("postalCode"),
        "country": _address_part("country"),
        "type": _string(UserValue.type),
        "primary": _PRIMARY,
    },
)


_GroupOfUser = aliased(Group, name="group_of_user")


def _groups_of_user(site_id: str, *, narrowed: bool = False) -> Select[Any]:
    return (
        select(Membership.user_id)
        .join(_GroupOfUser, _GroupOfUser.id == Membership.group_id)
        .where(Membership.site_id == site_id, Membership.user_id.is_not(None))
    )


_USER_GROUPS = MultiValued(
    rows=_groups_of_user,
    owner=Membership.user_id,
    ordering=(Membership.id,),
    subs={
        "value": _exact(Membership.group_id, required=True),
        "display": _string(_GroupOfUser.display_name, key=_GroupOfUser.display_name_key),
        # Memberships are stored direct; indirect ones are not computed.
        "type": _string(literal("direct"), required=True),
        "$ref": _NO_REF,
    },
)


def _meta(resource_type: str, table: type[User] | type[Group]) -> Complex:
    return Complex(
        always_present=True,
        subs={
            "resourcetype": _exact(literal(resource_type), required=True),
            "created": Scalar(Kind.DATETIME, table.created_at, required=True),
            "lastmodified": Scalar(Kind.DATETIME, table.updated_at, required=True),
            "location": Unfilterable("meta.location is derived from the request's URL"),
            "version": Unfilterable("meta.version is not filterable; use If-None-Match"),
        },
    )


_USER_NAME_TRIGRAMS = Trigrams(
    rows=lambda query: User.id.in_(
        select(USER_NAME_TRIGRAM_ROWS.c.user_id).where(
            USER_NAME_TRIGRAM_ROWS.c.id.in_(
                select(USER_NAME_TRIGRAMS.c.rowid).where(
                    USER_NAME_TRIGRAMS.c.user_name_key.match(query)
                )
            )
        )
    ),
    # (site_id, user_name_key) is unique, so indexed: GLOB 'prefix*' ranges over it.
    prefix_indexed=True,
)

USERS = Resource(
    name="User",
    core_schema=USER_SCHEMA,
    site_column=User.site_id,
    id_column=User.id,
    schemas={
        USER_SCHEMA.lower(): {
            "id": _exact(User.id, required=True),
            "externalid": _exact(User.external_id),
            "meta": _meta("User", User),
            "username": Scalar(
                Kind.STRING,
                User.user_name,
                key=User.user_name_key,
                required=True,
                trigrams=_USER_NAME_TRIGRAMS,
            ),
            "name": Complex(
                subs={
                    "formatted": _string(User.name_formatted),
                    "familyname": _string(User.name_family),
                    "givenname": _string(User.name_given),
                    "middlename": _string(User.name_middle),
                    "honorificprefix": _string(User.name_prefix),
                    "honorificsuffix": _string(User.name_suffix),
                }
            ),
            "displayname": _string(User.display_name, key=User.display_name_key),
            "nickname": _string(User.nick_name),
            "profileurl": _string(User.profile_url),
            "title": _string(User.title),
            "usertype": _string(User.user_type),
            "preferredlanguage": _string(User.preferred_language),
            "locale": _string(User.locale),
            "timezone": _string(User.timezone),
            "active": Scalar(Kind.BOOLEAN, User.active, required=True),
            "password": Unfilterable("password is write-only and never compared in a filter"),
            "emails": _plural("emails"),
            "phonenumbers": _plural("phoneNumbers"),
            "ims": _plural("ims"),
            "photos": _plural("photos"),
            "addresses": _ADDRESSES,
            "groups": _USER_GROUPS,
            "entitlements": _plural("entitlements"),
            "roles": _plural("roles"),
            "x509certificates": _plural(
                "x509Certificates", value=Scalar(Kind.BINARY, UserValue.value, case_exact=True)
            ),
        },
        ENTERPRISE_SCHEMA.lower(): {
            "employeenumber": _string(User.employee_number),
            "costcenter": _string(User.cost_center),
            "organization": _string(User.organization),
            "division": _string(User.division),
            "department": _string(User.department),
            "manager": Complex(
                subs={
                    "value": _exact(User.manager_id),
                    "displayname": _string(User.manager_display_name),
                    "$ref": _NO_REF,
                }
            ),
        },
        SITESCIM_SCHEMA.lower(): {
            "privilege": _string(User.privilege, required=True),
        },
    },
)


_MemberUser = aliased(User, name="member_user")
_MemberGroup = aliased(Group, name="member_group")


def _members(site_id: str, *, narrowed: bool = False) -> Select[Any]:
    return (
        select(Membership.group_id)
        .outerjoin(_MemberUser, _MemberUser.id == Membership.user_id)
        .outerjoin(_MemberGroup, _MemberGroup.id == Membership.member_group_id)
        .where(Membership.site_id == site_id)
    )


GROUPS = Resource(
    name="Group",
    core_schema=GROUP_SCHEMA,
    site_column=Group.site_id,
    id_column=Group.id,
    schemas={
        GROUP_SCHEMA.lower(): {
            "id": _exact(Group.id, required=True),
            "externalid": _exact(Group.external_id),
            "meta": _meta("Group", Group),
            "displayname": _string(Group.display_name, key=Group.display_name_key, required=True),
            "members": MultiValued(
                rows=_members,
                owner=Membership.group_id,
                ordering=(Membership.id,),
                subs={
                    "value": Scalar(
                        Kind.STRING,
                        func.coalesce(Membership.user_id, Membership.member_group_id),
                        case_exact=True,
                        required=True,
                        either=(Membership.user_id, Membership.member_group_id),
                    ),
                    "type": _string(
                        case((Membership.user_id.is_not(None), "User"), else_="Group"),
                        required=True,
                    ),
                    # As repositories.list_group_members shows it.
                    "display": _string(
                        func.coalesce(
                            _MemberUser.display_name,
                            _MemberUser.user_name,
                            _MemberGroup.display_name,
                        )
                    ),
                    "$ref": _NO_REF,
                },
            ),
        },
    },
)


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
    return _site_filter(USERS, site_id, text)


def group_filter(site_id: str, text: str | None) -> Condition:
    """The WHERE condition for ``/Groups``: the site's groups matching ``text`` (all if None)."""
    return _site_filter(GROUPS, site_id, text)


def member_rows(site_id: str, group_id: str, value_filter: FilterNode) -> Select[Any]:
    """The ids of one group's membership rows that ``members[<value_filter>]`` selects.

    For a PATCH ``remove`` whose filter does not name its members by value: the
    database picks the rows, so no member is read into Python to be tested.
    """
    members = GROUPS.schemas[GROUP_SCHEMA.lower()]["members"]
    assert isinstance(members, MultiValued)
    condition = _Compiler(GROUPS, site_id).visit(value_filter, _Scope(members.subs, "members"))
    rows = _members(site_id).with_only_columns(Membership.id, maintain_column_froms=False)
    return rows.where(Membership.group_id == group_id, condition)


def _site_filter(resource: Resource, site_id: str, text: str | None) -> Condition:
    if text is None:
        return resource.site_column == site_id
    condition = _Compiler(resource, site_id).visit(parse_filter(text))
    return and_(_equal(resource.site_column, site_id, narrowed=_narrows(condition)), condition)


@dataclass(frozen=True)
class _Scope:
    """Where names resolve: the resource, or the rows of a value path's attribute."""

    subs: Mapping[str, Scalar | Unfilterable] | None = None
    name: str = ""


class _Compiler:
    def __init__(self, resource: Resource, site_id: str) -> None:
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
        name = _spelled(node.attr_path)
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
        narrowed = _narrows(where)
        owners = self.resource.id_column.in_(
            attribute.rows(self.site_id, narrowed=narrowed).where(where)
        )
        return _PerDialect(sqlite=owners, postgresql=owners, narrows=True) if narrowed else owners

    def _top(self, node: Comparison | Present) -> Condition:
        path = node.attr_path
        attribute = self.resource.lookup(path)
        name = _spelled(path)
        if isinstance(attribute, Unfilterable):
            raise InvalidFilterException(detail=f"{name!r} cannot be filtered: {attribute.reason}.")
        if isinstance(attribute, Scalar):
            if path.sub_attr is not None:
                raise InvalidFilterException(
                    detail=f"{_head(path)!r} has no sub-attribute {path.sub_attr!r}."
                )
            return _scalar(node, attribute, name)
        if isinstance(attribute, Complex):
            if path.sub_attr is None:
                if isinstance(node, Present):
                    return _complex_present(attribute)
                raise InvalidFilterException(
                    detail=f"{name!r} is complex; compare one of its sub-attributes."
                )
            return _scalar(node, _sub(attribute.subs, path.sub_attr, name), name)
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
            attribute, lambda subs: _scalar(node, _sub(subs, sub_name, name), name)
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
        return _scalar(node, _sub(subs, path.attr, name), name)


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
    return or_(*(_present(sub) for sub in scalars))


def _present(attribute: Scalar) -> Condition:
    """``pr``: a value that is neither null nor an empty string (RFC 7644 §3.4.2.2)."""
    if attribute.required and attribute.kind != Kind.STRING:
        return true()
    present = attribute.column.is_not(None)
    if attribute.kind == Kind.STRING:
        return and_(present, attribute.column != "")
    return present


def _scalar(node: Comparison | Present, attribute: Scalar, name: str) -> Condition:
    if isinstance(node, Present):
        return _present(attribute)
    op, value = node.op, node.value
    if value is None:
        return _null_comparison(attribute, op, name)
    operand = _operand(attribute, op, value, name)
    target, operand = _target(attribute, op, operand)
    if op == CompareOperator.eq and attribute.either and isinstance(operand, str):
        # Each column alone, so each one's index can answer (no coalesce()).
        return or_(*(and_(column.is_not(None), column == operand) for column in attribute.either))
    if op == CompareOperator.ne:
        unequal: Condition = target != operand
        return unequal if attribute.required else or_(target.is_(None), unequal)
    if op == CompareOperator.eq:
        condition = target == operand
    elif op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        trigrams = attribute.trigrams
        if trigrams is not None and op == CompareOperator.sw and trigrams.prefix_indexed:
            trigrams = None
        condition = _substring_match(target, op, operand, trigrams=trigrams)
    else:
        condition = _ordering(target, op, operand, text=attribute.kind == Kind.STRING)
    return condition if attribute.required else and_(target.is_not(None), condition)


def _null_comparison(attribute: Scalar, op: CompareOperator, name: str) -> Condition:
    if op == CompareOperator.eq:
        return false() if attribute.required else attribute.column.is_(None)
    if op == CompareOperator.ne:
        return true() if attribute.required else attribute.column.is_not(None)
    raise InvalidFilterException(detail=f"null can only be compared with eq or ne ({name!r}).")


def _target(attribute: Scalar, op: CompareOperator, operand: Any) -> tuple[Expr, Any]:
    """The column to compare and the operand in the same case form."""
    if attribute.kind != Kind.STRING or attribute.case_exact:
        return attribute.column, operand
    if attribute.key is None:
        return func.lower(attribute.column), operand.lower()
    folded = fold(operand)
    if attribute.key_limit is None or (
        op == CompareOperator.eq and len(folded) <= attribute.key_limit
    ):
        # A value without a key is longer than any key, so it cannot be equal.
        return attribute.key, folded
    return func.coalesce(attribute.key, func.lower(attribute.column)), folded


_DATETIME = TypeAdapter(datetime)
_BOOLEAN_WORDS = {"true": True, "false": False}
_STRING_OPS = frozenset({CompareOperator.co, CompareOperator.sw, CompareOperator.ew})
_ORDER_OPS = frozenset(_ORDERING)


def _operand(attribute: Scalar, op: CompareOperator, value: Any, name: str) -> Any:
    """Check the operator against the attribute's type and read the value as that type."""
    kind = attribute.kind
    if kind in (Kind.BOOLEAN, Kind.BINARY) and op in _STRING_OPS | _ORDER_OPS:
        raise InvalidFilterException(
            detail=f"{op.value!r} cannot be applied to the {kind.value} attribute {name!r}."
        )
    if kind == Kind.DATETIME and op in _STRING_OPS:
        raise InvalidFilterException(
            detail=f"{op.value!r} cannot be applied to the dateTime attribute {name!r}."
        )
    if kind == Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOLEAN_WORDS:
            return _BOOLEAN_WORDS[value.lower()]
        raise InvalidFilterException(
            detail=f"{name!r} is a boolean; compare it with true or false."
        )
    if not isinstance(value, str):
        raise InvalidFilterException(
            detail=f"{name!r} is a {kind.value}; compare it with a quoted string, not {value!r}."
        )
    if kind == Kind.DATETIME:
        try:
            moment = _DATETIME.validate_python(value)
        except ValidationError:
            raise InvalidFilterException(
                detail=f'{value!r} is not a dateTime (such as "2011-05-13T04:42:34Z").'
            ) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return value
