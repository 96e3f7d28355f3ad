"""The audit log: who or which token did what, when, from where — never a secret.

Successful changes are recorded in the caller's transaction, so the record and
the change stand or fall together. Refusals and failed authentications are
recorded in a transaction of their own, because the caller's is rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sitescim.db import repositories as repo
from sitescim.db.engine import after_transaction
from sitescim.db.models import AuditEvent
from sitescim.domain.privileges import Actor
from sitescim.services.runtime import Runtime

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class Who:
    """The actor of an audit entry: a person, a token, or nobody identified."""

    kind: str
    id: str | None = None
    label: str | None = None

    @classmethod
    def person(cls, actor: Actor) -> Who:
        return cls(kind="user", id=actor.user_id, label=actor.label)

    @classmethod
    def token(cls, token_id: str, description: str) -> Who:
        return cls(kind="token", id=token_id, label=description)


ANONYMOUS = Who(kind="anonymous")


def record(
    session: Session,
    *,
    now: datetime,
    site_id: str | None,
    action: str,
    who: Who,
    outcome: str = "success",
    target: tuple[str, str] | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
    message: str | None = None,
) -> None:
    repo.add_event(
        session,
        AuditEvent(
            site_id=site_id,
            occurred_at=now,
            action=action,
            outcome=outcome,
            actor_type=who.kind,
            actor_id=who.id,
            actor_label=who.label,
            target_type=target[0] if target else None,
            target_id=target[1] if target else None,
            client_address=address,
            detail=detail or {},
            message=message,
            repeat_count=1,
        ),
    )


def record_refusal(session: Session, runtime: Runtime, **event: Any) -> None:
    """Record once the caller's transaction has ended: it is about to roll back."""
    now = runtime.clock()

    def write() -> None:
        with runtime.db.transaction(write=True) as own:
            record(own, now=now, outcome="refused", **event)

    after_transaction(session).append(write)


def record_auth_failure(
    runtime: Runtime,
    *,
    reason: str,
    address: str | None,
    site_id: str | None = None,
    who: Who = ANONYMOUS,
) -> None:
    """One row per site, address, reason and window, however many failures arrive."""
    now = runtime.clock()
    window = int(now.timestamp() // runtime.audit_window.total_seconds())
    key = f"auth.failed|{site_id or '-'}|{address or '-'}|{reason}|{who.id or '-'}|{window}"
    repeats = runtime.throttle.take(key)
    if not repeats:
        return
    values = {
        "site_id": site_id,
        "occurred_at": now,
        "action": "auth.failed",
        "outcome": "failure",
        "actor_type": who.kind,
        "actor_id": who.id,
        "actor_label": who.label,
        "client_address": address,
        "detail": {"reason": reason},
        "dedup_key": key[:200],
    }
    with runtime.db.transaction(write=True) as session:
        repo.add_or_count_event(session, values, repeats=repeats)


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    occurred_at: datetime
    action: str
    outcome: str
    actor_type: str
    actor_id: str | None
    actor_label: str | None
    target_type: str | None
    target_id: str | None
    client_address: str | None
    detail: dict[str, Any]
    message: str | None
    count: int


def list_events(
    session: Session,
    site_id: str,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action_prefix: str | None = None,
) -> Sequence[EventView]:
    rows = repo.list_events(
        session,
        site_id,
        limit=max(1, min(limit, MAX_PAGE)),
        before_id=before_id,
        action_prefix=action_prefix,
    )
    return [
        EventView(
            id=row.id,
            occurred_at=row.occurred_at,
            action=row.action,
            outcome=row.outcome,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            actor_label=row.actor_label,
            target_type=row.target_type,
            target_id=row.target_id,
            client_address=row.client_address,
            detail=dict(row.detail or {}),
            message=row.message,
            count=row.repeat_count,
        )
        for row in rows
    ]
