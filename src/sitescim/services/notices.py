"""Token-expiry notices (spec section 6): an event, and e-mail to the site's
Promasters, at 30, 7 and 1 days before a token expires and once it has.

Each notice is given once across every instance: its ``token_notices`` row is
inserted-or-nothing, and only the transaction that inserted it goes on to
write the event and the e-mails, all in that one transaction. Which threshold
a token is due (the most urgent crossed, never several at once) is
``domain.notices``'s rule.

The same near-expiry tokens feed the banner of every UI page a Promaster sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sitescim.db.models import AccessToken
from sitescim.db.repositories import notices as notices_repo
from sitescim.domain import tokens as token_rules
from sitescim.domain.clock import as_utc
from sitescim.domain.emails import EmailStatus
from sitescim.domain.events import EventType
from sitescim.domain.notices import (
    EXPIRED_NOTICE_WINDOW,
    NOTICE_HORIZON,
    NoticeText,
    Threshold,
    due_threshold,
)
from sitescim.domain.privileges import Actor
from sitescim.services import events
from sitescim.services.audit import Who
from sitescim.services.emails import Mailer, send_emails
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings

log = logging.getLogger(__name__)

SYSTEM = Who(kind="system")
TOKENS_PAGE = "/profile#tokens"
RUN_EVERY_SECONDS = 60
"""How often ``run_notices`` should run: a notice, or an e-mail's retry, is at most
this late; a run with nothing due costs two reads and takes no write lock."""


@dataclass(frozen=True, slots=True)
class NoticeRun:
    noticed: int
    emails_sent: int


def run_notices(runtime: Runtime, settings: Settings) -> NoticeRun:
    """The background job: give the notices due, then send the e-mail outbox."""
    mailer = Mailer.from_settings(settings)
    noticed = give_notices(
        runtime, email=mailer is not None, public_base_url=settings.public_base_url
    )
    sent = send_emails(runtime, settings) if mailer is not None else 0
    return NoticeRun(noticed=noticed, emails_sent=sent)


def give_notices(
    runtime: Runtime, *, email: bool = False, public_base_url: str | None = None
) -> int:
    """Give every notice due now; return how many this instance gave.

    ``email``: also write one message per active Promaster (only when SMTP is
    configured, so that no mail piles up that nothing would send).
    """
    now = runtime.clock()
    with runtime.db.transaction(write=False) as session:
        candidates = notices_repo.tokens_near_expiry(
            session,
            now=now,
            horizon=now + NOTICE_HORIZON,
            expired_since=now - EXPIRED_NOTICE_WINDOW,
        )
        given = notices_repo.notices_given(session, [row.id for row in candidates])
    due = [
        (row.id, threshold)
        for row in candidates
        if (threshold := due_threshold(row.expires_at, now)) is not None
        and (row.id, threshold.value) not in given
    ]
    tokens_url = public_base_url.rstrip("/") + TOKENS_PAGE if public_base_url else None
    noticed = 0
    for token_id, threshold in due:
        with runtime.db.transaction(write=True) as session:
            if _give(session, token_id, threshold, now, email=email, tokens_url=tokens_url):
                noticed += 1
    return noticed


def _give(
    session: Session,
    token_id: str,
    threshold: Threshold,
    now: datetime,
    *,
    email: bool,
    tokens_url: str | None,
) -> bool:
    token = notices_repo.get_token(session, token_id)
    # Revoked (or replaced) since the candidates were read: nothing more for it.
    if token is None or token.revoked_at is not None:
        return False
    if threshold is Threshold.EXPIRED and token.active_holder_id is None:
        return False  # retired: its holder has a newer token
    if due_threshold(token.expires_at, now) is not threshold:
        return False
    if not notices_repo.record_notice(session, token.id, threshold.value, now):
        return False  # another instance gave it
    days_left = token_rules.days_left(token.expires_at, now)
    expired = threshold is Threshold.EXPIRED
    events.emit(
        session,
        events.NewEvent(
            type=EventType.TOKEN_EXPIRED if expired else EventType.TOKEN_EXPIRING,
            site_id=token.site_id,
            resource_id=token.id,
            data=token_data(token, now),
            who=SYSTEM,
            now=now,
            changes=None if expired else {"threshold": threshold.value, "days_left": days_left},
        ),
    )
    recipients = notices_repo.promaster_addresses(session, token.site_id) if email else []
    if recipients:
        text = NoticeText(
            site_name=token.site.name,
            description=token.description,
            created_by=token.created_by_label,
            created_at=token.created_at,
            expires_at=token.expires_at,
            threshold=threshold,
            now=now,
            tokens_url=tokens_url,
        )
        subject, body = text.subject(), text.body()
        notices_repo.add_emails(
            session,
            [
                {
                    "site_id": token.site_id,
                    "recipient": recipient,
                    "subject": subject,
                    "body": body,
                    "status": EmailStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for recipient in recipients
            ],
        )
    log.info(
        "token expiry notice given",
        extra={
            "token_id": token.id,
            "site_id": token.site_id,
            "threshold": threshold.value,
            "emails": len(recipients),
        },
    )
    return True


def _stamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def token_data(token: AccessToken, now: datetime) -> dict[str, Any]:
    """A token's public fields, as an event shows them: never its value or its hash."""
    return {
        "id": token.id,
        "description": token.description,
        "scope": token.scope,
        "created_by": {"id": token.created_by_id, "label": token.created_by_label},
        "created_at": _stamp(token.created_at),
        "expires_at": _stamp(token.expires_at),
        "status": token_rules.token_status(
            revoked_at=token.revoked_at, expires_at=token.expires_at, now=now
        ).value,
    }


@dataclass(frozen=True, slots=True)
class ExpiringToken:
    id: str
    description: str
    expires_at: datetime
    days_left: int


def expiring_tokens(session: Session, runtime: Runtime, actor: Actor) -> list[ExpiringToken]:
    """The site's live tokens expiring within 30 days, for a Promaster's banner; for
    anyone else nothing, without a query."""
    if not actor.is_promaster:
        return []
    now = runtime.clock()
    rows = notices_repo.expiring_tokens(
        session, actor.site_id, now=now, until=now + token_rules.EXPIRY_WARNING
    )
    return [
        ExpiringToken(
            id=row.id,
            description=row.description,
            expires_at=row.expires_at,
            days_left=token_rules.days_left(row.expires_at, now),
        )
        for row in rows
    ]
