"""The keyset pages of the directory's lists, forwards and back, written once.

A page marker is a cursor of scim/cursors.py, sealed with the server's cursor
key over the list it belongs to, so the UI pages the way SCIM lists do; a
damaged one, or one of another list, is a clear 400.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from scim2_models import InvalidCursorException

from sitescim.domain.errors import InvalidInputError
from sitescim.scim import cursors
from sitescim.scim.cursors import Fingerprint, Position

PAGE_SIZE = 50
SEARCH_MAX = 100

Row = TypeVar("Row")

# Reads at most ``limit`` rows after one position or before another, in list order.
Fetch = Callable[[Position | None, Position | None, int], Sequence[Row]]


@dataclass(frozen=True, slots=True)
class Window(Generic[Row]):
    """One page of a list, with the markers of the pages beside it (None at either end)."""

    rows: Sequence[Row]
    next_after: str | None
    prev_before: str | None


def read_search(search: str | None) -> str:
    text = (search or "").strip()
    if len(text) > SEARCH_MAX:
        raise InvalidInputError("q", f"must be at most {SEARCH_MAX} characters")
    return text


def read_window(
    fetch: Fetch[Row],
    position_of: Callable[[Row], tuple[str, str]],
    *,
    list_name: str,
    cursor_key: bytes,
    after: str | None,
    before: str | None,
    limit: int,
) -> Window[Row]:
    """The page after ``after``, or before ``before``, or the first; one row more is
    fetched than shown, to know whether another page follows in that direction."""
    print_ = cursors.fingerprint(cursor_key, "directory", list_name)
    after_at = _position(print_, after)
    before_at = _position(print_, before)
    rows = fetch(after_at, before_at, limit + 1)
    more = len(rows) > limit
    rows = rows[-limit:] if before_at else rows[:limit]
    has_next = more if not before_at else True
    has_prev = (more if before_at else after_at is not None) and bool(rows)
    return Window(
        rows=rows,
        next_after=cursors.encode(print_, *position_of(rows[-1])) if rows and has_next else None,
        prev_before=cursors.encode(print_, *position_of(rows[0])) if has_prev else None,
    )


def _position(print_: Fingerprint, marker: str | None) -> Position | None:
    if not marker:
        return None
    try:
        position = cursors.decode(print_, marker)
    except InvalidCursorException:
        position = None
    if position is None or not isinstance(position.key, str):
        raise InvalidInputError("page", "is not a page marker of this list")
    return position
