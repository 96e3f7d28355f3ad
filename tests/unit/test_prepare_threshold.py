"""The ``prepare_threshold`` URL option: psycopg's prepared statements off behind PgBouncer."""

from __future__ import annotations

import pytest

from sitescim.db.engine import prepare_threshold

BASE = "postgresql://sitescim@pgbouncer:6432/sitescim"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (BASE, 5),
        (f"{BASE}?prepare_threshold=none", None),
        (f"{BASE}?prepare_threshold=None", None),
        (f"{BASE}?sslmode=require&prepare_threshold=0", 0),
        (f"{BASE}?prepare_threshold=20", 20),
    ],
)
def test_prepare_threshold_comes_from_the_url(url: str, expected: int | None) -> None:
    assert prepare_threshold(url) == expected


def test_a_threshold_that_is_no_number_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        prepare_threshold(f"{BASE}?prepare_threshold=sometimes")
