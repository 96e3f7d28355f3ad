"""Token-expiry notices: which one a token is due, and what its e-mail says.

A token is noticed at 30, 7 and 1 days before it expires and once when it has
expired, each once. When a run finds several thresholds crossed at once (the
first run after an upgrade, or an instance that was down for a week), only the
most urgent is given: a token 5 days from expiry gets the 7-day notice, not
the 30-day one as well, because a stale "30 days left" would be both noise and
wrong. The thresholds skipped are never given later, since time only moves
towards the more urgent ones.

A token that expired more than ``EXPIRED_NOTICE_WINDOW`` ago gets no notice at
all (it is history, not news), nor does one whose holder has since replaced it
("retired"), nor a revoked one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sitescim.domain.clock import as_utc
from sitescim.domain.tokens import EXPIRY_WARNING, days_left

EXPIRED_NOTICE_WINDOW = timedelta(days=30)
NOTICE_HORIZON = EXPIRY_WARNING
"""The earliest notice: a token further from expiry than this is not looked at."""


class Threshold(StrEnum):
    DAYS_30 = "30d"
    DAYS_7 = "7d"
    DAYS_1 = "1d"
    EXPIRED = "expired"

    @property
    def before_expiry(self) -> timedelta:
        return _BEFORE_EXPIRY[self]


_BEFORE_EXPIRY = {
    Threshold.DAYS_30: timedelta(days=30),
    Threshold.DAYS_7: timedelta(days=7),
    Threshold.DAYS_1: timedelta(days=1),
    Threshold.EXPIRED: timedelta(0),
}
_MOST_URGENT_FIRST = (Threshold.EXPIRED, Threshold.DAYS_1, Threshold.DAYS_7, Threshold.DAYS_30)


def due_threshold(expires_at: datetime, now: datetime) -> Threshold | None:
    """The most urgent threshold the token has crossed, or None if none (or too long ago)."""
    remaining = as_utc(expires_at) - as_utc(now)
    if remaining <= -EXPIRED_NOTICE_WINDOW:
        return None
    for threshold in _MOST_URGENT_FIRST:
        if remaining <= threshold.before_expiry:
            return threshold
    return None


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What a notice's e-mail says about one token of one site."""

    site_name: str
    description: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    threshold: Threshold
    now: datetime
    tokens_url: str | None

    @property
    def days_left(self) -> int:
        return days_left(self.expires_at, self.now)

    def subject(self) -> str:
        if self.threshold is Threshold.EXPIRED:
            return f"SCIM token “{self.description}” of {self.site_name} has expired"
        return (
            f"SCIM token “{self.description}” of {self.site_name} "
            f"expires in {_days(self.days_left)}"
        )

    def body(self) -> str:
        expiry = as_utc(self.expires_at).strftime("%Y-%m-%d %H:%M UTC")
        if self.threshold is Threshold.EXPIRED:
            state = f"expired on {expiry}. Provisioning calls using it now fail."
        else:
            state = f"expires on {expiry}, in {_days(self.days_left)}."
        lines = [
            "Hello,",
            "",
            f"The SCIM access token “{self.description}” of {self.site_name} {state}",
            "",
            f"Token: {self.description}",
            f"Created by: {self.created_by}, on {as_utc(self.created_at):%Y-%m-%d}",
            f"Expires: {expiry}",
            "",
            "To keep provisioning running, a Promaster creates a new token and sets it in the",
            "identity provider before this one expires.",
        ]
        if self.tokens_url:
            lines += ["", f"Access tokens: {self.tokens_url}"]
        lines += ["", "You receive this as a Promaster of the site. — sitescim"]
        return "\n".join(lines) + "\n"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"
