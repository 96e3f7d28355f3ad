"""The directory's keyset pages, on a list in memory: forwards, back, and refused markers."""

from __future__ import annotations

import pytest

from sitescim.domain.errors import InvalidInputError
from sitescim.scim.cursors import Position
from sitescim.services.directory.keyset import read_search, read_window

KEY = b"k" * 32
NAMES = [f"n{i:02d}" for i in range(7)]


def fetch(after: Position | None, before: Position | None, limit: int) -> list[str]:
    if before is not None:
        return [name for name in NAMES if name < before.key][-limit:]
    return [name for name in NAMES if after is None or name > after.key][:limit]


def page(*, after: str | None = None, before: str | None = None, list_name: str = "people"):
    return read_window(
        fetch,
        lambda name: (name, f"id-{name}"),
        list_name=list_name,
        cursor_key=KEY,
        after=after,
        before=before,
        limit=3,
    )


def test_pages_go_forwards_to_the_end_and_back_to_the_start():
    first = page()
    assert list(first.rows) == NAMES[:3]
    assert first.prev_before is None
    second = page(after=first.next_after)
    assert list(second.rows) == NAMES[3:6]
    last = page(after=second.next_after)
    assert list(last.rows) == NAMES[6:]
    assert last.next_after is None
    back = page(before=last.prev_before)
    assert list(back.rows) == NAMES[3:6]
    start = page(before=back.prev_before)
    assert list(start.rows) == NAMES[:3]
    assert start.prev_before is None
    assert start.next_after is not None


@pytest.mark.parametrize("marker", ["garbage!", "eyJ4Ijp9", "a.b"])
def test_a_damaged_marker_is_invalid_input(marker):
    with pytest.raises(InvalidInputError) as refused:
        page(after=marker)
    assert refused.value.field == "page"


def test_a_marker_of_another_list_is_refused():
    marker = page().next_after
    with pytest.raises(InvalidInputError):
        page(after=marker, list_name="groups")


def test_a_search_longer_than_the_limit_is_refused():
    assert read_search("  ada ") == "ada"
    with pytest.raises(InvalidInputError):
        read_search("x" * 101)
