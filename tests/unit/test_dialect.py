"""Literal text matching spelled for SQLite (GLOB) and PostgreSQL (LIKE), in db.dialect."""

from __future__ import annotations

from sqlalchemy import column, create_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sitescim.db.dialect import (
    escape_glob,
    escape_like,
    match_text,
    quote_trigram_query,
    starts_with,
)


def test_like_wildcards_and_the_escape_character_are_escaped() -> None:
    assert escape_like(r"50%_a\b") == r"50\%\_a\\b"


def test_glob_wildcards_are_bracketed() -> None:
    assert escape_glob("a*b?c[d]") == "a[*]b[?]c[[]d]"


def test_a_prefix_match_compiles_to_glob_on_sqlite_and_like_on_postgresql() -> None:
    condition = match_text(column("name"), "a%*", at_start=True)
    on_sqlite = condition.compile(dialect=sqlite.dialect())
    on_postgresql = condition.compile(dialect=postgresql.dialect())
    assert "GLOB" in str(on_sqlite)
    assert list(on_sqlite.params.values()) == ["a%[*]*"]
    assert "LIKE" in str(on_postgresql)
    assert list(on_postgresql.params.values()) == ["a\\%*%"]


def test_short_operands_have_no_trigram_query() -> None:
    assert quote_trigram_query("ab") is None
    assert quote_trigram_query('a"bc') == '"a""bc"'


def test_the_repositories_prefix_match_follows_the_sessions_database() -> None:
    name = column("user_name_key")
    with Session(create_engine("sqlite://")) as on_sqlite:
        condition = starts_with(on_sqlite, name, "a_*")
        assert "GLOB" in str(condition)
        assert list(condition.compile().params.values()) == ["a_[*]*"]
    with Session(create_engine("postgresql+psycopg://nobody@127.0.0.1/none")) as on_postgresql:
        condition = starts_with(on_postgresql, name, "a_*")
        assert "LIKE" in str(condition)
        assert list(condition.compile().params.values()) == ["a\\_*%"]
