"""What any JSON body must be before it reaches a rule: shallow, and only storable text.

A body nested hundreds of levels deep exhausts the call stack of whatever
walks it next (a deep copy, a validator), a NUL cannot be stored by PostgreSQL
and a lone surrogate cannot be encoded as UTF-8 at all. Each is refused once,
here, for every body of every protocol, rather than wherever it would break.
"""

from __future__ import annotations

from typing import Any

from sitescim.domain.errors import InvalidInputError

MAX_DEPTH = 32
"""Far above any SCIM or API body (a Bulk member reference is 7 levels deep)."""

_NUL = "\x00"


def _text_problem(text: str) -> str | None:
    if _NUL in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def check_text(field: str, text: str) -> None:
    """Refuse text no database can store (NUL, lone surrogates)."""
    problem = _text_problem(text)
    if problem is not None:
        raise InvalidInputError(field, problem)


def check_document(document: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed JSON document nested deeper than ``max_depth`` or holding bad text.

    Iterative, so the check itself cannot exhaust the stack it protects.
    """
    stack: list[tuple[Any, int, str]] = [(document, 1, "")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, str):
            check_text(where or "body", node)
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            top = where.partition("[")[0].partition(".")[0] or "body"
            raise InvalidInputError(top, f"is nested more than {max_depth} levels deep")
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{where}.{key}" if where else str(key)
                check_text(where or "body", str(key))
                stack.append((value, depth + 1, path))
        else:
            for index, value in enumerate(node):
                stack.append((value, depth + 1, f"{where}[{index}]" if where else f"[{index}]"))
