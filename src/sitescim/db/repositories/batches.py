"""Shapes for statements that carry many rows at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ID_CHUNK = 500  # keeps IN lists within every driver's parameter limit


def in_chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[start : start + ID_CHUNK] for start in range(0, len(values), ID_CHUNK)]


def column_values(row: Any) -> dict[str, Any]:
    """The column values set on a not yet persisted ORM object, for an executemany INSERT."""
    state = row.__dict__
    return {
        column.key: state[column.key] for column in row.__table__.columns if column.key in state
    }
