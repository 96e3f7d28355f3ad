"""Cursor pagination (RFC 9865): opaque cursors that are keyset positions.

A cursor holds the sort key and id of the last resource of a page, so the next
page is ``WHERE (key, id) > (last key, last id)`` on the ordering index: each
resource present when a walk starts is seen exactly once, however many are
created meanwhile, and a page deep in a large site costs what the first does.
Cursors are stateless, so they never expire (no ``cursorTimeout`` is declared).

A cursor also carries a fingerprint of the query it belongs to; used with
another filter or order it is refused (``invalidCursor``) rather than
silently paging through a different result set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import InvalidCursorException
from sqlalchemy import and_, or_

MAX_CURSOR_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Position:
    """Where the previous page ended: its last sort key and id."""

    key: Any
    id: str


def fingerprint(*parts: object) -> str:
    """A short digest of what defines a result set (resource, filter, order)."""
    text = json.dumps([str(part) if part is not None else None for part in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode(print_: str, key: Any, id_: str) -> str:
    """Base64url without padding: only RFC 3986 unreserved characters, as §2 asks."""
    if isinstance(key, datetime):
        stored: Any = {"t": key.isoformat()}
    else:
        stored = key
    raw = json.dumps([print_, stored, id_], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(print_: str, cursor: str) -> Position | None:
    """None for the empty cursor (the first page); else the position, or invalidCursor."""
    if cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursorException(detail="This cursor is not one this service gave out.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stored_print, key, id_ = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursorException(
            detail="This cursor is not one this service gave out."
        ) from None
    if stored_print != print_:
        raise InvalidCursorException(
            detail="This cursor belongs to another query: keep the filter and order it came with."
        )
    if not isinstance(id_, str):
        raise InvalidCursorException(detail="This cursor is not one this service gave out.")
    if isinstance(key, dict):
        try:
            key = datetime.fromisoformat(key["t"])
        except (KeyError, TypeError, ValueError):
            raise InvalidCursorException(
                detail="This cursor is not one this service gave out."
            ) from None
    elif key is not None and not isinstance(key, str | int | float | bool):
        raise InvalidCursorException(detail="This cursor is not one this service gave out.")
    return Position(key=key, id=id_)


def after(position: Position, key: Any, id_column: Any, *, descending: bool) -> Any:
    """Rows strictly after ``position`` in the order ``_ordered`` gives.

    That order is the key (ascending with NULLs last, or descending with NULLs
    first), then the id ascending.
    """
    same_key_later = and_(key == position.key, id_column > position.id)
    if position.key is None:
        nulls_later = and_(key.is_(None), id_column > position.id)
        return or_(nulls_later, key.is_not(None)) if descending else nulls_later
    if descending:
        return or_(key < position.key, same_key_later)
    return or_(key > position.key, same_key_later, key.is_(None))
