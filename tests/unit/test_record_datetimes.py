"""``db.records.utc``: what the hot reader makes of the datetimes each database answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitescim.db.records import utc

moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 12, 31))


@given(moments)
def test_sqlite_text_reads_as_the_utc_datetime_it_names(moment):
    """SQLAlchemy's naive text, with or without microseconds, in both parse paths."""
    for text in (str(moment), moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M:%S.%f")):
        read = utc(text)
        assert read == moment.replace(tzinfo=UTC)
        assert read is not None
        assert read.utcoffset() == timedelta(0)
        assert read.isoformat() == moment.replace(tzinfo=UTC).isoformat()


@pytest.mark.parametrize(
    "zone", [UTC, timezone(timedelta(0)), ZoneInfo("Etc/UTC"), timezone(timedelta(hours=2))]
)
def test_aware_datetimes_read_as_utc(zone):
    moment = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=zone)
    read = utc(moment)
    assert read == moment
    assert read is not None
    assert read.utcoffset() == timedelta(0)
    assert read.isoformat() == moment.astimezone(UTC).isoformat()


def test_naive_datetimes_and_none():
    assert utc(None) is None
    assert utc(datetime(2026, 3, 1, 12)) == datetime(2026, 3, 1, 12, tzinfo=UTC)
