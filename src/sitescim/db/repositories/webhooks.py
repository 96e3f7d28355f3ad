"""Webhook endpoints, their deliveries and attempts. Never commits (habit 4).

Claiming is how several instances share the sending: the oldest pending
delivery of each (endpoint, site) is taken with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite has one writer at a time anyway) and leased by moving its
``next_attempt_at`` past the lease, so no other instance takes it, nor any later
delivery of that pair, until the lease ends or the result is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from sitescim.db.application_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sitescim.db.dialect import is_postgresql
from sitescim.db.repositories import events as events_repo
from sitescim.domain.webhooks import DeliveryStatus, EndpointStatus

PENDING = str(DeliveryStatus.PENDING)


def add_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    session.add(endpoint)
    session.flush()


def get_endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id)


def list_endpoints(session: Session, *, removed: bool = False) -> Sequence[WebhookEndpoint]:
    statement = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if not removed:
        statement = statement.where(WebhookEndpoint.status != str(EndpointStatus.REMOVED))
    return session.scalars(statement).all()


def fanning_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    """Active and failing endpoints: a failing one keeps collecting what it is owed."""
    return session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.status != str(EndpointStatus.REMOVED))
    ).all()


def add_deliveries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(WebhookDelivery), list(rows))


def advance_fanout(session: Session, endpoint_id: str, *, seen: int, to: int) -> bool:
    """Move the endpoint's fan-out mark from ``seen`` to ``to``; False if another
    instance moved it first (then this one's deliveries must be rolled back)."""
    result = session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.fanout_position == seen)
        .values(fanout_position=to)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim(
    session: Session, *, now: datetime, lease_until: datetime, pairs: int, per_pair: int
) -> list[list[WebhookDelivery]]:
    """Due deliveries of up to ``pairs`` (endpoint, site) pairs, each pair's in order.

    A pair's batch starts at its oldest pending delivery, which must be due; later
    ones follow while they are due too. Every claimed row is leased.
    """
    heads_query = (
        _due_heads(now).order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(pairs)
    )
    if is_postgresql(session):
        # A head another instance holds is skipped, and with it its whole pair: the
        # pair's later deliveries are never heads while it is pending.
        heads_query = heads_query.with_for_update(skip_locked=True, of=WebhookDelivery)
    heads = session.scalars(heads_query).all()
    batches: list[list[WebhookDelivery]] = []
    for head in heads:
        batch = [head]
        if per_pair > 1:
            followers = session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_id == head.endpoint_id,
                    WebhookDelivery.site_id == head.site_id,
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.event_position > head.event_position,
                )
                .order_by(WebhookDelivery.event_position)
                .limit(per_pair - 1)
            ).all()
            for follower in followers:
                if follower.next_attempt_at > now:
                    break
                batch.append(follower)
        batches.append(batch)
    ids = [delivery.id for batch in batches for delivery in batch]
    if ids:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
    return batches


def update_deliveries(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key; every dict has ``id`` and the same other keys."""
    if changes:
        session.execute(update(WebhookDelivery), list(changes))


def add_attempts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(WebhookAttempt), list(rows))


def mark_failing(session: Session, endpoint_ids: Sequence[str], *, now: datetime) -> None:
    if endpoint_ids:
        session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id.in_(list(endpoint_ids)),
                WebhookEndpoint.status == str(EndpointStatus.ACTIVE),
            )
            .values(status=str(EndpointStatus.FAILING), failing_since=now)
            .execution_options(synchronize_session=False)
        )


def list_deliveries(
    session: Session, endpoint_id: str, *, status: str | None, limit: int
) -> Sequence[WebhookDelivery]:
    """Newest first: what an operator looking at an endpoint wants to see."""
    statement = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.event_position.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    return session.scalars(statement).all()


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def list_attempts(session: Session, delivery_id: int) -> Sequence[WebhookAttempt]:
    return session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    ).all()


def requeue_failed(session: Session, endpoint_id: str, *, now: datetime) -> int:
    """Failed deliveries of the endpoint become pending again, due now, with fresh retries."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == str(DeliveryStatus.FAILED),
        )
        .values(status=PENDING, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def drop_pending(session: Session, endpoint_id: str) -> int:
    """A removed endpoint's pending deliveries will never be sent: they become failed,
    so they leave the pending part of the index that every claim reads."""
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == PENDING)
        .values(status=str(DeliveryStatus.FAILED))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def counts_by_status(session: Session, endpoint_id: str | None = None) -> dict[str, int]:
    statement = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    return {str(status): int(count) for status, count in session.execute(statement).all()}


def has_due(connection: Connection, *, now: datetime) -> bool:
    """Whether any pair's oldest pending delivery is due: one read, so an idle worker
    (or one waiting out a failing receiver's retry) never takes the write lock."""
    return connection.execute(_due_heads(now).limit(1)).first() is not None


def _due_heads(now: datetime) -> Select[WebhookDelivery]:
    """Each (endpoint, site) pair's oldest pending delivery, when it is due and its
    endpoint active. The oldest positions come from one pass over the index."""
    oldest = (
        select(
            WebhookDelivery.endpoint_id,
            WebhookDelivery.site_id,
            func.min(WebhookDelivery.event_position).label("position"),
        )
        .where(WebhookDelivery.status == PENDING)
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.site_id)
        .subquery()
    )
    return (
        select(WebhookDelivery)
        .join(
            oldest,
            and_(
                WebhookDelivery.endpoint_id == oldest.c.endpoint_id,
                WebhookDelivery.site_id == oldest.c.site_id,
                WebhookDelivery.event_position == oldest.c.position,
            ),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.status == str(EndpointStatus.ACTIVE),
        )
    )


def prune_delivered(session: Session, *, before: datetime) -> int:
    """Forget deliveries delivered before ``before`` (their attempts go with them)."""
    old = select(WebhookDelivery.id).where(
        WebhookDelivery.status == str(DeliveryStatus.DELIVERED),
        WebhookDelivery.delivered_at < before,
    )
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
    result = session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.id.in_(old))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def next_due(session: Session) -> datetime | None:
    """When the earliest pending delivery of an active endpoint is due (None: none)."""
    value = session.execute(
        select(func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            and_(
                WebhookDelivery.status == PENDING,
                WebhookEndpoint.status == str(EndpointStatus.ACTIVE),
            )
        )
    ).scalar_one()
    return value if isinstance(value, datetime) else None


def settled_last_position(session: Session) -> int:
    """The last event position, once any transaction numbering events has committed
    (on PostgreSQL): an endpoint starting after it misses no event committing now."""
    if is_postgresql(session):
        session.connection().execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": events_repo.EVENTS_LOCK}
        )
    return events_repo.last_position(session)
