"""What any JSON body must be before it reaches a rule: shallow, and only storable text.

A body nested hundreds of levels deep exhausts the call stack of whatever
walks it next (a deep copy, a validator), a NUL cannot be stored by PostgreSQL
and a lone surrogate cannot be encoded as UTF-8 at all. Each is refused once,
here, for every body of every protocol, rather than wherever it would break.
"""

from __future__ import annotations

import re
from typing import Any

from sitescim.domain.errors import InvalidInputError

MAX_DEPTH = 32
"""Far above any SCIM or API body (a Bulk member reference is 7 levels deep)."""

_NUL = "\x00"
# In JSON text a NUL or a surrogate can only arrive as a \u escape: a body without
# one needs no look at its strings (the common case, and the cheap one).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


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


def check_document(document: Any, *, raw: bytes | None = None, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed JSON document nested deeper than ``max_depth`` or holding bad text.

    ``raw`` is the JSON text it was parsed from, if at hand: without a ``\\u``
    escape of a NUL or a surrogate in it, strings are not looked at, and with
    fewer brackets than the limit, nothing is. Iterative, so the check itself
    cannot exhaust the stack it protects.
    """
    texts = raw is None or _SUSPECT_ESCAPE.search(raw) is not None
    # No deeper than it has brackets: most identity-provider bodies have fewer than the limit.
    shallow = raw is not None and raw.count(b"[") + raw.count(b"{") <= max_depth
    if shallow and not texts:
        return
    problem = _problem(document, texts=texts, max_depth=max_depth)
    if problem is None:
        return
    field = "body"
    if isinstance(document, dict):  # name the top-level attribute to blame
        for key, value in document.items():
            if _problem(value, texts=texts, max_depth=max_depth - 1) is not None:
                field = str(key)
                break
    raise InvalidInputError(field, problem)


def _problem(document: Any, *, texts: bool, max_depth: int) -> str | None:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is str:
            if texts:
                problem = _text_problem(node)
                if problem is not None:
                    return problem
            continue
        if kind is dict:
            if texts:
                for key in node:
                    problem = _text_problem(key)
                    if problem is not None:
                        return f"has a key that {problem}"
            children = node.values()
        elif kind is list:
            children = node
        else:
            continue
        if depth > max_depth:
            return f"is nested more than {max_depth} levels deep"
        for child in children:
            child_kind = type(child)
            if child_kind is dict or child_kind is list or (texts and child_kind is str):
                stack.append((child, depth + 1))
    return None
