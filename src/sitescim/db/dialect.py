"""The few places where SQLite and PostgreSQL need different SQL.

The upsert construct and the repositories' prefix match are chosen by the
session's database. The filters' differences (literal text matching, code-point
order, trigram narrowing) are ``PerDialect`` conditions, spelled one way for
SQLite and another for PostgreSQL and chosen when the statement is compiled, so
one statement object (and SQLAlchemy's statement cache) serves both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
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

Expr = SQLColumnExpression[Any]
Condition = ColumnElement[bool]


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def upsert_for(session: Session) -> Any:
    """The INSERT construct that has ``on_conflict_do_*`` for the session's database."""
    return pg_insert if is_postgresql(session) else sqlite_insert


def starts_with(session: Session, column: Any, prefix: str) -> Any:
    """A prefix match an index can answer: GLOB on SQLite, LIKE on PostgreSQL.

    SQLite's LIKE ignores ASCII case and so cannot use a binary index; the keys
    searched with this are case-folded already, so both are exact.
    """
    if is_postgresql(session):
        return column.like(escape_like(prefix) + "%", escape="\\")
    return column.op("GLOB", is_comparison=True)(escape_glob(prefix) + "*")


class PerDialect(ColumnElement[bool]):
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
        """True when SQLite's branch picks its rows through a trigram table (see is_narrowing)."""


# In parentheses: a branch may be an AND, and NOT (or anything around it) must
# apply to the whole branch.


@compiles(PerDialect)
def _compile_default(element: PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.sqlite, **kw)})"


@compiles(PerDialect, "postgresql")
def _compile_postgresql(element: PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.postgresql, **kw)})"


def is_narrowing(condition: Condition) -> bool:
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
    if isinstance(element, PerDialect):
        return element.narrows
    if isinstance(element, BooleanClauseList) and element.operator is operators.and_:
        return any(is_narrowing(clause) for clause in element.clauses)
    return False


def compare_equal(column: Expr, value: str, *, narrowed: bool) -> Condition:
    """``column = value``; on SQLite under a trigram match, one that no index serves."""
    equal: Condition = column == value
    if not narrowed:
        return equal
    element: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)
    unindexed = UnaryExpression(element, operator=operators.custom_op("+"), type_=element.type)
    return PerDialect(sqlite=unindexed == value, postgresql=equal)


def escape_like(value: str) -> str:
    """``value`` as literal text in a LIKE pattern with ``ESCAPE '\\'``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def escape_glob(value: str) -> str:
    """``value`` as literal text in a GLOB pattern."""
    # In a GLOB pattern a bracket expression holds its character literally.
    return "".join(f"[{char}]" if char in "*?[" else char for char in value)


def match_text(
    target: Expr,
    operand: str,
    *,
    at_start: bool = False,
    at_end: bool = False,
    narrowing: Condition | None = None,
) -> PerDialect:
    """``target`` holds ``operand`` literally and case-sensitively (a prefix with ``at_start``).

    SQLite's LIKE ignores ASCII case, so SQLite gets GLOB (case-sensitive, and
    still index-assisted for a prefix); PostgreSQL gets LIKE with escapes.
    ``narrowing`` (SQLite only) first picks candidate rows, a superset of the
    matches, through a trigram table; GLOB then decides, as without it.
    """
    glob: Condition = target.op("GLOB", is_comparison=True)(
        ("" if at_start else "*") + escape_glob(operand) + ("" if at_end else "*")
    )
    like = target.like(
        ("" if at_start else "%") + escape_like(operand) + ("" if at_end else "%"), escape="\\"
    )
    if narrowing is None:
        return PerDialect(sqlite=glob, postgresql=like)
    return PerDialect(sqlite=and_(narrowing, glob), postgresql=like, narrows=True)


def quote_trigram_query(operand: str) -> str | None:
    """The FTS5 query for ``operand`` as a literal substring, or None if FTS5 cannot serve it.

    One double-quoted FTS5 string, quotes inside doubled: ``*``, ``OR``,
    ``NEAR(``, ``^``, ``:`` and the like are then text, never query syntax. The
    trigram tokenizer matches nothing for fewer than three characters, and the
    query text ends at a NUL: those operands are answered by the scan instead.
    """
    if len(operand) < 3 or "\x00" in operand:
        return None
    return '"' + operand.replace('"', '""') + '"'


def compare_in_code_points(
    target: Expr, compare: Callable[[Any, Any], Condition], operand: str
) -> PerDialect:
    """An ordering comparison of strings by code point, as SCIM clients expect.

    SQLite's default collation already is binary; PostgreSQL's depends on the
    database locale, so strings are compared under ``COLLATE "C"`` there.
    """
    return PerDialect(
        sqlite=compare(target, operand),
        postgresql=compare(target.collate("C"), operand),
    )
