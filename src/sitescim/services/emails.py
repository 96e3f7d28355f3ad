"""Sending the e-mail outbox (``email_messages``) through SMTP.

Messages are written in the transaction of what they tell of (a token notice),
so none is sent for a change that rolled back and none is lost when the
server is down: they wait, and are tried again with growing delays
(``domain.emails`` has the states and the schedule). Each batch is claimed in
a short transaction of its own and sent outside any transaction, so a slow
SMTP server never holds the database's write lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sitescim.db.repositories import emails as emails_repo
from sitescim.domain.emails import (
    MAX_ATTEMPTS,
    SEND_LEASE,
    SmtpTarget,
    parse_smtp_url,
    retry_delay,
)
from sitescim.services import mail
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings

log = logging.getLogger(__name__)

BATCH = 50


@dataclass(frozen=True, slots=True)
class Mailer:
    """Where e-mail goes and who it comes from; None from ``from_settings`` without SMTP."""

    target: SmtpTarget
    sender: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        if settings.smtp_url is None or not settings.smtp_from:
            return None
        return cls(
            target=parse_smtp_url(settings.smtp_url.get_secret_value()),
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
        )


def send_emails(runtime: Runtime, settings: Settings) -> int:
    """Send what is due, batch after batch; return how many went out. No SMTP: nothing."""
    mailer = Mailer.from_settings(settings)
    if mailer is None:
        return 0
    sent = 0
    while True:
        sent_now, claimed = _send_batch(runtime, mailer)
        sent += sent_now
        if claimed < BATCH:
            return sent


def _send_batch(runtime: Runtime, mailer: Mailer) -> tuple[int, int]:
    now = runtime.clock()
    with runtime.db.transaction(write=False) as session:
        if not emails_repo.any_due(session, now=now):
            return 0, 0
    with runtime.db.transaction(write=True) as session:
        claimed = [
            (message.id, message.attempts, message.recipient, message.subject, message.body)
            for message in emails_repo.claim(
                session, now=now, lease_until=now + SEND_LEASE, limit=BATCH
            )
        ]
    sent = 0
    for index, (message_id, attempts, recipient, subject, body) in enumerate(claimed):
        try:
            composed = mail.compose(
                sender=mailer.sender, recipient=recipient, subject=subject, body=body
            )
            mail.send(mailer.target, composed, timeout=mailer.timeout)
        except mail.SendError as error:
            if not error.unreachable:
                _record_failure(runtime, message_id, attempts, str(error))
                continue
            # Each of the rest would wait out the same timeout: they wait for the retry.
            for rest_id, rest_attempts, *_ in claimed[index:]:
                _record_failure(runtime, rest_id, rest_attempts, str(error))
            return sent, 0
        with runtime.db.transaction(write=True) as session:
            emails_repo.mark_sent(session, message_id, attempts=attempts, now=runtime.clock())
        log.info("e-mail sent", extra={"email_id": message_id, "attempt": attempts})
        sent += 1
    return sent, len(claimed)


def _record_failure(runtime: Runtime, message_id: int, attempts: int, error: str) -> None:
    now = runtime.clock()
    retry_at = None if attempts >= MAX_ATTEMPTS else now + retry_delay(attempts)
    with runtime.db.transaction(write=True) as session:
        emails_repo.mark_failed(
            session, message_id, attempts=attempts, error=error, retry_at=retry_at
        )
    log.warning(
        "e-mail not sent",
        extra={
            "email_id": message_id,
            "attempt": attempts,
            "error": error,
            "retry_at": retry_at.isoformat() if retry_at else None,
        },
    )
