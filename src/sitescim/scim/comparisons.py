"""One comparison of a scalar attribute with a filter's value, as SQL (RFC 7644 §3.4.2.2).

The operator is checked against the attribute's type and the value read as that
type; case-insensitive strings compare on their case-folded key (or ``lower()``);
every condition is two-valued, a missing value never making it SQL NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from scim2_models import InvalidFilterException
from scim2_models.path.expressions import CompareOperator, Comparison, Present
from sqlalchemy import and_, false, func, or_, true

from sitescim.db.dialect import (
    Condition,
    Expr,
    compare_in_code_points,
    match_text,
    quote_trigram_query,
)
from sitescim.scim.attributes import AttributeType, Scalar, Trigrams


def fold(value: str) -> str:
    """The case-folded form stored in the ``*_key`` columns (and compared against them)."""
    return value.casefold()


def _substring_match(
    target: Expr, op: CompareOperator, operand: str, *, trigrams: Trigrams | None = None
) -> Condition:
    """``co``/``sw``/``ew`` with the operand taken literally and case-sensitively.

    Callers fold both sides first when the attribute is not case-exact. With
    ``trigrams``, SQLite first narrows the rows through its FTS5 trigram table.
    """
    query = quote_trigram_query(operand) if trigrams is not None else None
    return match_text(
        target,
        operand,
        at_start=op == CompareOperator.sw,
        at_end=op == CompareOperator.ew,
        narrowing=None if trigrams is None or query is None else trigrams.rows(query),
    )


_ORDERING = {
    CompareOperator.gt: lambda a, b: a > b,
    CompareOperator.ge: lambda a, b: a >= b,
    CompareOperator.lt: lambda a, b: a < b,
    CompareOperator.le: lambda a, b: a <= b,
}


def _ordering(target: Expr, op: CompareOperator, operand: Any, *, text: bool) -> Condition:
    """An ordering comparison; strings compare by code point (db.dialect)."""
    compare: Callable[[Any, Any], Condition] = _ORDERING[op]
    if not text:
        return compare(target, operand)
    return compare_in_code_points(target, compare, operand)


def match_present(attribute: Scalar) -> Condition:
    """``pr``: a value that is neither null nor an empty string (RFC 7644 §3.4.2.2)."""
    if attribute.required and attribute.kind != AttributeType.STRING:
        return true()
    present = attribute.column.is_not(None)
    if attribute.kind == AttributeType.STRING:
        return and_(present, attribute.column != "")
    return present


def compare_scalar(node: Comparison | Present, attribute: Scalar, name: str) -> Condition:
    if isinstance(node, Present):
        return match_present(attribute)
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
        condition = _ordering(target, op, operand, text=attribute.kind == AttributeType.STRING)
    return condition if attribute.required else and_(target.is_not(None), condition)


def _null_comparison(attribute: Scalar, op: CompareOperator, name: str) -> Condition:
    if op == CompareOperator.eq:
        return false() if attribute.required else attribute.column.is_(None)
    if op == CompareOperator.ne:
        return true() if attribute.required else attribute.column.is_not(None)
    raise InvalidFilterException(detail=f"null can only be compared with eq or ne ({name!r}).")


def _target(attribute: Scalar, op: CompareOperator, operand: Any) -> tuple[Expr, Any]:
    """The column to compare and the operand in the same case form."""
    if attribute.kind != AttributeType.STRING or attribute.case_exact:
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
    if kind in (AttributeType.BOOLEAN, AttributeType.BINARY) and op in _STRING_OPS | _ORDER_OPS:
        raise InvalidFilterException(
            detail=f"{op.value!r} cannot be applied to the {kind.value} attribute {name!r}."
        )
    if kind == AttributeType.DATETIME and op in _STRING_OPS:
        raise InvalidFilterException(
            detail=f"{op.value!r} cannot be applied to the dateTime attribute {name!r}."
        )
    if kind == AttributeType.BOOLEAN:
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
    if kind == AttributeType.DATETIME:
        try:
            moment = _DATETIME.validate_python(value)
        except ValidationError:
            raise InvalidFilterException(
                detail=f'{value!r} is not a dateTime (such as "2011-05-13T04:42:34Z").'
            ) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return value
