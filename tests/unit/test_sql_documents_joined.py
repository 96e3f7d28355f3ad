"""JsonSql.joined on SQLite (one printf) gives what a chain of ``||`` gives
(NULL for an empty text: printf's, which its callers allow for).

The page statement writes every document through it; the literals it moves into
printf's format must come out verbatim, ``%`` and doubled quotes included, and
the expressions in order. A real SQLite connection evaluates both spellings.
"""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from sitescim.scim.sql_documents import JsonSql

SQLITE = JsonSql("sqlite")

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
parts = st.lists(
    st.one_of(
        texts.map(lambda text: ("literal", text)),
        texts.map(lambda text: ("quoted", text)),
    ),
    min_size=1,
    max_size=8,
)


def _spelled(part: tuple[str, str]) -> str:
    kind, text = part
    literal = JsonSql.literal(text)
    return literal if kind == "literal" else SQLITE.quote(literal)


@given(parts)
def test_printf_equals_the_concatenation(chosen: list[tuple[str, str]]) -> None:
    spelled = [_spelled(part) for part in chosen]
    with sqlite3.connect(":memory:") as connection:
        joined = connection.execute(f"SELECT {SQLITE.joined(spelled)}").fetchone()[0]
        chained = connection.execute(f"SELECT {' || '.join(spelled)}").fetchone()[0]
    assert joined == (chained or None)


def test_literals_go_into_the_format_and_expressions_are_arguments() -> None:
    sql = SQLITE.joined(["'50% ''off'''", "json_quote(x)", "'}'"])
    assert sql == "printf('50%% ''off''%s}', json_quote(x))"
    assert JsonSql("postgresql").joined(["'a'", "b"]) == "'a' || b"


def test_a_null_part_is_written_as_nothing() -> None:
    sql = "SELECT " + SQLITE.joined(["'a'", "NULL", "'b'"])
    with sqlite3.connect(":memory:") as connection:
        text = connection.execute(sql).fetchone()[0]
    assert text == "ab"
