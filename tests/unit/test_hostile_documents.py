"""Sealed cursors and the shape every JSON body must have, checked without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from scim2_models import InvalidCursorException

from sitescim.domain.documents import MAX_DEPTH, check_document
from sitescim.domain.errors import InvalidInputError
from sitescim.scim import cursors

KEY = b"k" * 32


def _sealed(key: object, id_: object = "id-1") -> str:
    """A cursor sealed with the right key around a position of any shape."""
    seal = cursors.fingerprint(KEY, "User", None, "userName", False)
    position = cursors.json.dumps([key, id_], separators=(",", ":")).encode()
    return f"{cursors._b64(position)}.{cursors._b64(seal.tag(position))}"


@pytest.mark.parametrize(
    "key",
    [2**63, -(2**63) - 1, float("nan"), [1], {"t": "2026-01-01"}, {"t": 5}, {"x": 1}, "a\x00"],
    ids=repr,
)
def test_a_sealed_cursor_with_a_key_no_column_holds_is_refused(key):
    seal = cursors.fingerprint(KEY, "User", None, "userName", False)
    with pytest.raises(InvalidCursorException):
        cursors.decode(seal, _sealed(key))


@pytest.mark.parametrize("id_", [1, None, "", "x" * 37, "a\x00"], ids=repr)
def test_a_sealed_cursor_with_an_id_no_resource_has_is_refused(id_):
    seal = cursors.fingerprint(KEY, "User", None, "userName", False)
    with pytest.raises(InvalidCursorException):
        cursors.decode(seal, _sealed("a", id_))


@pytest.mark.parametrize(
    "key", [None, True, "walker", 7, datetime(2026, 3, 1, tzinfo=UTC)], ids=repr
)
def test_a_cursor_round_trips_under_its_own_seal_only(key):
    seal = cursors.fingerprint(KEY, "User", None, "userName", False)
    cursor = cursors.encode(seal, key, "id-1")
    assert cursors.decode(seal, cursor) == cursors.Position(key=key, id="id-1")
    for other in (
        cursors.fingerprint(b"x" * 32, "User", None, "userName", False),
        cursors.fingerprint(KEY, "User", None, "displayName", False),
        cursors.fingerprint(KEY, "Group", None, "userName", False),
    ):
        with pytest.raises(InvalidCursorException):
            cursors.decode(other, cursor)


def test_cursors_cannot_be_sealed_without_a_key():
    with pytest.raises(ValueError, match="cursor key"):
        cursors.fingerprint(b"", "User")


def test_a_document_at_the_depth_limit_passes_and_one_deeper_is_refused():
    document: object = "leaf"
    for _ in range(MAX_DEPTH):
        document = [document]
    check_document({"a": document[0]})  # type: ignore[index]
    with pytest.raises(InvalidInputError, match="nested") as refused:
        check_document({"a": document})
    assert refused.value.field == "a"


def test_a_very_deep_document_is_refused_without_recursion():
    document: object = 1
    for _ in range(100_000):
        document = [document]
    with pytest.raises(InvalidInputError, match="nested"):
        check_document({"members": document})


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"userName": "a\x00b"}, "userName"),
        ({"emails": [{"value": "x\ud800"}]}, "emails"),
        ({"a\x00": "x"}, "body"),
        ({"name": {"\udfff": 1}}, "name"),
    ],
)
def test_text_no_database_stores_is_refused_with_its_field(document, field):
    with pytest.raises(InvalidInputError) as refused:
        check_document(document)
    assert refused.value.field == field


def test_text_is_looked_at_only_when_the_json_text_escapes_a_nul_or_a_surrogate():
    document = {"userName": "a\x00b"}
    check_document(document, raw=b'{"userName":"plain"}')  # what the JSON said: nothing to see
    for escaped in (b'{"userName":"a\\u0000b"}', b'{"x":"\\uD800"}', b'{"x":"\\udfff"}'):
        with pytest.raises(InvalidInputError, match="NUL"):
            check_document(document, raw=escaped)


def test_ordinary_unicode_passes():
    check_document({"userName": "Zoë 😀 ü", "n": [1, 2.5, None, True, {"x": "\u2028"}]})


def test_the_json_text_decides_only_whether_to_look_never_what_passes():
    deep: object = 1
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    raw = json.dumps({"a": deep}).encode()
    with pytest.raises(InvalidInputError, match="nested"):
        check_document({"a": deep}, raw=raw)
    brackets_in_strings = {"a": "[" * 100 + "{" * 100}
    check_document(brackets_in_strings, raw=json.dumps(brackets_in_strings).encode())
