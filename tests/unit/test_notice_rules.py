"""The rules of token-expiry notices and their e-mail, without a database."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from sitescim.domain.emails import MAX_ATTEMPTS, SmtpTarget, parse_smtp_url, retry_delay
from sitescim.domain.errors import InvalidInputError
from sitescim.domain.notices import Threshold, due_threshold
from sitescim.services import mail
from sitescim.settings import Settings

EXPIRY = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SITESCIM_* variable of the machine running the tests leaks into Settings."""
    for name in list(os.environ):
        if name.startswith("SITESCIM_"):
            monkeypatch.delenv(name)


PASSWORD = "pa:ss/w@rd"


@pytest.mark.parametrize(
    ("before_expiry", "expected"),
    [
        (timedelta(days=30, seconds=1), None),
        (timedelta(days=30), Threshold.DAYS_30),
        (timedelta(days=7, seconds=1), Threshold.DAYS_30),
        (timedelta(days=5), Threshold.DAYS_7),  # 30 and 7 both crossed: only the 7
        (timedelta(days=1), Threshold.DAYS_1),
        (timedelta(seconds=1), Threshold.DAYS_1),
        (timedelta(0), Threshold.EXPIRED),
        (-timedelta(days=29), Threshold.EXPIRED),
        (-timedelta(days=30), None),  # old news
    ],
)
def test_a_token_is_due_the_most_urgent_threshold_it_has_crossed(
    before_expiry: timedelta, expected: Threshold | None
) -> None:
    assert due_threshold(EXPIRY, EXPIRY - before_expiry) is expected


def test_naive_database_times_are_read_as_utc() -> None:
    naive = EXPIRY.replace(tzinfo=None)
    assert due_threshold(naive, EXPIRY - timedelta(days=6)) is Threshold.DAYS_7


def test_retries_wait_longer_each_time_up_to_six_hours() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays == sorted(delays)
    assert max(delays) == timedelta(hours=6)
    assert timedelta(hours=18) < sum(delays, timedelta()) < timedelta(days=2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.test", SmtpTarget("mail.test", 25, "plain")),
        ("smtp+starttls://mail.test", SmtpTarget("mail.test", 587, "starttls")),
        ("smtps://mail.test:2465", SmtpTarget("mail.test", 2465, "tls")),
        (
            "smtp+starttls://me%40x.test:pa%3Ass%2Fw%40rd@mail.test",
            SmtpTarget("mail.test", 587, "starttls", "me@x.test", PASSWORD),
        ),
    ],
)
def test_smtp_urls_name_host_port_security_and_login(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


def test_the_smtp_password_is_in_no_repr_and_no_error() -> None:
    target = parse_smtp_url("smtps://me:secret-pw@mail.test")
    assert "secret-pw" not in repr(target)
    for bad in (
        "http://me:secret-pw@mail.test",
        "smtp://me:secret-pw@",
        "smtp://me:secret-pw@h:99999",
    ):
        with pytest.raises(InvalidInputError) as refused:
            parse_smtp_url(bad)
        assert "secret-pw" not in str(refused.value)


def test_settings_want_a_sender_with_smtp_and_hide_the_url() -> None:
    with pytest.raises(ValidationError, match="SITESCIM_SMTP_FROM"):
        Settings(smtp_url="smtp://mail.test")
    with pytest.raises(ValidationError, match="smtp://") as refused:
        Settings(smtp_url="imap://me:secret-pw@mail.test", smtp_from="a@b.test")
    assert "secret-pw" not in str(refused.value)
    settings = Settings(smtp_url="smtp://me:secret-pw@mail.test", smtp_from="a@b.test")
    assert "secret-pw" not in repr(settings)
    assert "secret-pw" not in str(settings.model_dump())


def test_settings_refuse_an_smtp_port_out_of_range_without_showing_the_url() -> None:
    with pytest.raises(ValidationError, match="port out of range") as refused:
        Settings(smtp_url="smtp://me:secret-pw@mail.test:99999", smtp_from="a@b.test")
    assert "secret-pw" not in str(refused.value)


def test_a_header_with_a_line_break_is_refused_not_sent() -> None:
    with pytest.raises(mail.SendError, match="linefeed") as refused:
        mail.compose(sender="a@b.test", recipient="c@d.test", subject="Hi\nBcc: e@f.test", body="x")
    assert refused.value.unreachable is False
