"""SQLite's datetime text, as the hot reader hands it to the document, formats as the
datetime it stands for (user_documents.scim_datetime)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from sitescim.scim.user_documents import scim_datetime

_DIALECT = sqlite.dialect()
_STORED = DateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)


@given(st.datetimes(min_value=datetime(1970, 1, 1)))
def test_sqlite_datetime_text_formats_as_the_datetime_does(moment: datetime) -> None:
    stored = _STORED(moment)
    assert isinstance(stored, str)
    assert scim_datetime(stored) == scim_datetime(moment.replace(tzinfo=UTC))


@given(st.datetimes(min_value=datetime(1970, 1, 1)))
def test_other_datetime_text_is_parsed(moment: datetime) -> None:
    text = moment.replace(microsecond=0).isoformat(sep=" ")
    assert scim_datetime(text) == scim_datetime(moment.replace(tzinfo=UTC, microsecond=0))
