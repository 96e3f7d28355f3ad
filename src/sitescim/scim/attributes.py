"""What the filter and sort catalog (``scim.catalog``) says of one attribute.

An attribute is a ``Scalar`` (one column or SQL expression), a ``Complex`` of
scalars, a ``MultiValued`` attribute held in rows of another table, or
``Unfilterable``, with the reason. ``ResourceCatalog`` holds a resource type's
attributes by lower-case schema URN and name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from scim2_models import InvalidFilterException
from scim2_models.path.expressions import AttrPath
from sqlalchemy import Select

from sitescim.db.dialect import Condition, Expr


class AttributeType(Enum):
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

    kind: AttributeType
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
    """``narrowed``: a trigram match will drive the query (see db.dialect.is_narrowing)."""
    owner: Expr
    subs: Mapping[str, Scalar | Unfilterable]
    ordering: tuple[Expr, ...] = ()
    """How its values are ordered, so sorting can take the primary, else the first."""


Attribute = Scalar | Complex | MultiValued | Unfilterable


@dataclass(frozen=True)
class ResourceCatalog:
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
                detail=f"Unknown attribute {spell(path)!r} in a {self.name} filter."
            )
        return attribute


def spell(path: AttrPath) -> str:
    return str(path)
