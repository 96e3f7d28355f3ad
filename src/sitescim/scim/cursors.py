"""Cursor pagination (RFC 9865): opaque cursors that are keyset positions.

A cursor holds the sort key and id of the last resource of a page, so the next
page is ``WHERE (key, id) > (last key, last id)`` on the ordering index: each
resource present when a walk starts is seen exactly once, however many are
created meanwhile, and a page deep in a large site costs what the first does.
Cursors are stateless, so they never expire (no ``cursorTimeout`` is declared).

A cursor is sealed with an HMAC, keyed by a server secret, over the query it
belongs to (resource, filter, order) and its position: used with another
filter or order, or altered in any way, it is refused (``invalidCursor``)
rather than paging through a different result set or reaching the database
with values of a type its columns do not hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scim2_models import InvalidCursorException
from sqlalchemy import and_, or_

MAX_CURSOR_LENGTH = 2048
MAX_ID_LENGTH = 36
_TAG_BYTES = 16
_INT_RANGE = range(-(2**63), 2**63)
_NOT_OURS = "This cursor is not one this service gave out for this query: keep the filter and order it came with."


@dataclass(frozen=True, slots=True)
class Position:
    """Where the previous page ended: its last sort key and id."""

    key: Any
    id: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What defines a result set (resource, filter, order), with the key that seals cursors."""

    key: bytes = field(repr=False)
    query: bytes

    def tag(self, position: bytes) -> bytes:
        mac = hmac.new(self.key, self.query + b"\n" + position, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]


def fingerprint(key: bytes, *parts: object) -> Fingerprint:
    """The seal of cursors for one query; ``key`` is the server's cursor key (settings)."""
    if not key:
        raise ValueError("cursors need the server's cursor key")
    text = json.dumps([str(part) if part is not None else None for part in parts])
    return Fingerprint(key=key, query=text.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(print_: Fingerprint, key: Any, id_: str) -> str:
    """Position and tag in base64url without padding, joined by a dot: only RFC 3986
    unreserved characters, as RFC 9865 §2 asks."""
    stored: Any = {"t": key.isoformat()} if isinstance(key, datetime) else key
    position = json.dumps([stored, id_], separators=(",", ":")).encode()
    return f"{_b64(position)}.{_b64(print_.tag(position))}"


def decode(print_: Fingerprint, cursor: str) -> Position | None:
    """None for the empty cursor (the first page); else the position, or invalidCursor."""
    if cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursorException(detail=_NOT_OURS)
    body, _, tag = cursor.partition(".")
    try:
        position = _unb64(body)
        sealed = hmac.compare_digest(_unb64(tag), print_.tag(position))
    except (binascii.Error, ValueError):
        raise InvalidCursorException(detail=_NOT_OURS) from None
    if not sealed:
        raise InvalidCursorException(detail=_NOT_OURS)
    try:
        key, id_ = json.loads(position)
    except (ValueError, TypeError):
        raise InvalidCursorException(detail=_NOT_OURS) from None
    return Position(key=_checked_key(key), id=_checked_id(id_))


def _checked_id(id_: Any) -> str:
    if not isinstance(id_, str) or not 0 < len(id_) <= MAX_ID_LENGTH or "\x00" in id_:
        raise InvalidCursorException(detail=_NOT_OURS)
    return id_


def _checked_key(key: Any) -> Any:
    """A sort key of a type some column holds; even a sealed cursor is checked (the
    seal proves where it came from, this what the database will be given)."""
    if key is None or isinstance(key, bool):
        return key
    if isinstance(key, str) and "\x00" not in key:
        return key
    if isinstance(key, int) and key in _INT_RANGE:
        return key
    if isinstance(key, float) and math.isfinite(key):
        return key
    if isinstance(key, dict) and set(key) == {"t"} and isinstance(key["t"], str):
        try:
            moment = datetime.fromisoformat(key["t"])
        except ValueError:
            raise InvalidCursorException(detail=_NOT_OURS) from None
        if moment.tzinfo is not None:
            return moment
    raise InvalidCursorException(detail=_NOT_OURS)


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
