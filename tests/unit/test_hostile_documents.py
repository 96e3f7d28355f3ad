"""The shape every JSON body must have, checked without a server (cursors: test_cursors)."""

from __future__ import annotations

import json

import pytest

from sitescim.domain.documents import MAX_DEPTH, check_document
from sitescim.domain.errors import InvalidInputError


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
