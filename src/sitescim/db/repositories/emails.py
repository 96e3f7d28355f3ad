"""The e-mail outbox: claiming messages to send, and recording how the send went."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from sitescim.db.application_tables import EmailMessage
from sitescim.db.dialect import is_postgresql
from sitescim.domain.emails import EmailStatus


def any_due(session: Session, *, now: datetime) -> bool:
    """A read before the claim, so that an idle run takes no write lock."""
    return (
        session.scalar(
            select(EmailMessage.id)
            .where(
                EmailMessage.status.in_([EmailStatus.PENDING.value, EmailStatus.SENDING.value]),
                EmailMessage.next_attempt_at <= now,
            )
            .limit(1)
        )
        is not None
    )


def claim(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> Sequence[EmailMessage]:
    """Take up to ``limit`` messages due now (pending, or sending with a lapsed lease).

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets instances claim side by side
    without waiting or taking the same rows; SQLite's writers take turns. The
    claim is committed before anything is sent, so the lease shows to others.
    """
    query = (
        select(EmailMessage)
        .where(
            EmailMessage.status.in_([EmailStatus.PENDING.value, EmailStatus.SENDING.value]),
            EmailMessage.next_attempt_at <= now,
        )
        .order_by(EmailMessage.id)
        .limit(limit)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    messages = session.scalars(query).all()
    for message in messages:
        message.status = EmailStatus.SENDING.value
        message.attempts += 1
        message.next_attempt_at = lease_until
    session.flush()
    return messages


def _still_claimed(message_id: int, attempts: int) -> list[ColumnElement[bool]]:
    """Only the claim that sent it may record the outcome (a lapsed one was re-claimed)."""
    return [
        EmailMessage.id == message_id,
        EmailMessage.status == EmailStatus.SENDING.value,
        EmailMessage.attempts == attempts,
    ]


def mark_sent(session: Session, message_id: int, *, attempts: int, now: datetime) -> None:
    session.execute(
        update(EmailMessage)
        .where(*_still_claimed(message_id, attempts))
        .values(status=EmailStatus.SENT.value, sent_at=now, error=None)
    )


def mark_failed(
    session: Session,
    message_id: int,
    *,
    attempts: int,
    error: str,
    retry_at: datetime | None,
) -> None:
    """Back to pending until ``retry_at``; ``failed`` for good when there is none."""
    status = EmailStatus.FAILED if retry_at is None else EmailStatus.PENDING
    values: dict[str, object] = {"status": status.value, "error": error}
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    session.execute(
        update(EmailMessage).where(*_still_claimed(message_id, attempts)).values(**values)
    )
