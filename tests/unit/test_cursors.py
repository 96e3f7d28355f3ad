"""scim.cursors without a database: sealed keyset positions, and every way a cursor is refused.

Cursors are stateless and declare no ``cursorTimeout``, so nothing expires; a
cursor carries no site either: the page query it resumes is always the site's.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from scim2_models import InvalidCursorException

from sitescim.scim.cursors import MAX_CURSOR_LENGTH, MAX_ID_LENGTH, Position, decode, encode
from sitescim.scim.cursors import fingerprint as make_fingerprint

KEY = b"k" * 32
QUERY = ("User", 'userName sw "a"', "userName", False)
ID = "2819c223-7f76-453a-919d-413861904646"
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def seal(key: bytes = KEY, *parts: object) -> Any:
    return make_fingerprint(key, *(parts or QUERY))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def forged(position: Any) -> str:
    """A cursor holding ``position``, sealed with the right key (as a leaked key would allow)."""
    raw = json.dumps(position).encode()
    return f"{b64(raw)}.{b64(seal().tag(raw))}"


def refused(cursor: str, print_: Any = None) -> InvalidCursorException:
    with pytest.raises(InvalidCursorException) as caught:
        decode(print_ or seal(), cursor)
    assert caught.value.scim_type == "invalidCursor"
    assert "not one this service gave out" in str(caught.value.detail)
    return caught.value


@pytest.mark.parametrize(
    "key",
    [
        "ada@example.com",
        "",
        "ünïcode",
        0,
        -(2**63),
        2**63 - 1,
        1.5,
        None,
        True,
        False,
        datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    ],
)
def test_a_cursor_gives_back_the_position_it_was_made_from(key: Any) -> None:
    cursor = encode(seal(), key, ID)
    assert decode(seal(), cursor) == Position(key=key, id=ID)


def test_a_cursor_uses_only_unreserved_characters() -> None:
    cursor = encode(seal(), 'odd "key" / ? & = + %', ID)
    assert set(cursor) <= UNRESERVED
    assert len(cursor) <= MAX_CURSOR_LENGTH


def test_the_empty_cursor_is_the_first_page() -> None:
    assert decode(seal(), "") is None


def test_cursors_do_not_expire() -> None:
    """Stateless: a cursor decoded again later, or by another instance with the key, still works."""
    cursor = encode(seal(), "ada", ID)
    assert decode(seal(), cursor) == decode(make_fingerprint(KEY, *QUERY), cursor)


def test_a_fingerprint_needs_a_key() -> None:
    with pytest.raises(ValueError, match="cursor key"):
        make_fingerprint(b"", *QUERY)


# Refused: another key or another query


def test_a_cursor_sealed_with_another_key_is_refused() -> None:
    cursor = encode(seal(b"o" * 32), "ada", ID)
    refused(cursor)


@pytest.mark.parametrize(
    "other_query",
    [
        ("Group", 'userName sw "a"', "userName", False),
        ("User", 'userName sw "b"', "userName", False),
        ("User", None, "userName", False),
        ("User", 'userName sw "a"', "displayName", False),
        ("User", 'userName sw "a"', "userName", True),
    ],
)
def test_a_cursor_of_another_query_is_refused(other_query: tuple[object, ...]) -> None:
    cursor = encode(seal(), "ada", ID)
    refused(cursor, seal(KEY, *other_query))


# Refused: tampering


def test_a_changed_position_is_refused() -> None:
    cursor = encode(seal(), "ada", ID)
    _, _, tag = cursor.partition(".")
    other = b64(json.dumps(["bob", ID], separators=(",", ":")).encode())
    refused(f"{other}.{tag}")


def test_a_changed_tag_is_refused() -> None:
    body, _, tag = encode(seal(), "ada", ID).partition(".")
    flipped = "A" if tag[0] != "A" else "B"
    refused(f"{body}.{flipped}{tag[1:]}")


def test_a_tag_of_another_cursor_is_refused() -> None:
    first = encode(seal(), "ada", ID)
    second = encode(seal(), "bob", ID)
    refused(f"{first.partition('.')[0]}.{second.partition('.')[2]}")


# Refused: malformed input


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        ".",
        "a.b.c",
        "@@@.###",
        "\x00.\x00",
    ],
)
def test_malformed_cursors_are_refused_clearly(cursor: str) -> None:
    refused(cursor)


@pytest.mark.parametrize(
    "position",
    [
        "not a list",
        ["ada"],
        ["ada", ID, "extra"],
        ["ada", 7],
        ["ada", ""],
        ["ada", "x" * (MAX_ID_LENGTH + 1)],
        ["ada", "id\x00"],
        ["a\x00da", ID],
        ["ada", None],
        [2**63, ID],
        [-(2**63) - 1, ID],
        [[1, 2], ID],
        [{"x": 1}, ID],
        [{"t": 5}, ID],
        [{"t": "2026-01-01"}, ID],  # a date, no time zone
        [{"t": "2026-03-01T12:00:00"}, ID],  # no time zone
        [{"t": "yesterday"}, ID],
        [{"t": "2026-03-01T12:00:00+00:00", "x": 1}, ID],
    ],
)
def test_a_sealed_position_of_the_wrong_shape_is_refused(position: Any) -> None:
    """The seal proves where a cursor came from; the shape is checked before SQL sees it."""
    refused(forged(position))


def test_a_non_finite_float_is_refused() -> None:
    raw = b'[NaN,"' + ID.encode() + b'"]'
    refused(f"{b64(raw)}.{b64(seal().tag(raw))}")


def test_a_cursor_over_the_length_limit_is_refused_even_when_sealed() -> None:
    cursor = encode(seal(), "a" * MAX_CURSOR_LENGTH, ID)
    assert len(cursor) > MAX_CURSOR_LENGTH
    refused(cursor)


def test_a_sealed_position_that_is_not_json_is_refused() -> None:
    raw = b"\xff not json"
    refused(f"{b64(raw)}.{b64(seal().tag(raw))}")
