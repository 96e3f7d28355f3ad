"""Webhook delivery's database side: fan-out, claiming due deliveries, recording results.

Each step is its own short transaction; no transaction is ever open while a
request is on the wire (services.webhook_sender sends between claim and record).

Guarantees: at least once (a delivery leaves ``pending`` only when its result
is recorded, so a crash between send and record sends it again, with the same
``webhook-id`` and body), and in order per (endpoint, site) (a delivery is sent
only when no earlier one of its pair is pending; see db.repositories.webhooks).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sitescim.db.application_tables import WebhookEndpoint
from sitescim.db.repositories import events as events_repo
from sitescim.db.repositories import webhooks as hooks_repo
from sitescim.domain.events import event_id
from sitescim.domain.webhooks import DeliveryStatus, body, retry_delay
from sitescim.services import events as event_service
from sitescim.services.runtime import Runtime
from sitescim.services.webhooks import secret_box

FANOUT_BATCH = 1000
HISTORY_RETENTION = timedelta(days=30)


class _LostRaceError(Exception):
    """Another instance fanned out the same events first."""


def fan_out(runtime: Runtime, *, batch: int = FANOUT_BATCH) -> int:
    """Turn events past each endpoint's mark into its deliveries; return how many.

    The payload is fixed here, so a redelivery sends the very same bytes. Marks move
    past events an endpoint does not want too, so they are not scanned again.
    """
    plans: list[tuple[str, int, int, list[dict[str, Any]]]] = []
    with runtime.db.transaction(write=False) as session:
        for endpoint in hooks_repo.fanning_endpoints(session):
            # Read before the events: every position up to ``last`` has committed
            # (services.events), so the read below, whose snapshot is later (on
            # PostgreSQL each statement takes its own), sees all of them.
            last = events_repo.last_position(session)
            rows = events_repo.read_after(
                session,
                endpoint.fanout_position,
                limit=batch,
                site_ids=endpoint.site_ids,
                types=endpoint.types,
            )
            newest = rows[-1].position if rows else 0
            reached = newest if len(rows) == batch else max(last, newest, endpoint.fanout_position)
            if reached > endpoint.fanout_position:
                plans.append(
                    (endpoint.id, endpoint.fanout_position, reached, [r._asdict() for r in rows])
                )
    if not plans:
        return 0
    now = runtime.clock()
    made = 0
    try:
        with runtime.db.transaction(write=True) as session:
            for endpoint_id, seen, reached, events in plans:
                if not hooks_repo.advance_fanout(session, endpoint_id, seen=seen, to=reached):
                    raise _LostRaceError
                hooks_repo.add_deliveries(
                    session, [_delivery_row(endpoint_id, event, now) for event in events]
                )
                made += len(events)
    except _LostRaceError:
        return 0
    return made


def _delivery_row(endpoint_id: str, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "site_id": event["site_id"],
        "event_position": event["position"],
        "event_type": event["type"],
        "payload": body(event_service.to_json(event)),
        "status": str(DeliveryStatus.PENDING),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for sending: plain values, safe to hand to another thread."""

    id: int
    endpoint_id: str
    webhook_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Batch:
    """One (endpoint, site) pair's due deliveries, to be sent in order, one at a time."""

    url: str
    secret: str
    deliveries: list[Claimed]


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: Claimed
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def has_due(runtime: Runtime) -> bool:
    with runtime.db.reading() as connection:
        return hooks_repo.has_due(connection, now=runtime.clock())


def prune(runtime: Runtime, retention: timedelta = HISTORY_RETENTION) -> int:
    """Delivered deliveries and their attempts are kept ``retention``, as events are."""
    with runtime.db.transaction(write=True) as session:
        return hooks_repo.prune_delivered(session, before=runtime.clock() - retention)


def claim_due(runtime: Runtime, *, pairs: int, per_pair: int, lease: timedelta) -> list[Batch]:
    now = runtime.clock()
    box = secret_box(runtime)
    with runtime.db.transaction(write=True) as session:
        claimed = hooks_repo.claim(
            session, now=now, lease_until=now + lease, pairs=pairs, per_pair=per_pair
        )
        endpoints: dict[str, WebhookEndpoint] = {}
        batches = []
        for rows in claimed:
            endpoint_id = rows[0].endpoint_id
            endpoint = endpoints.get(endpoint_id) or hooks_repo.get_endpoint(session, endpoint_id)
            assert endpoint is not None
            endpoints[endpoint_id] = endpoint
            batches.append(
                Batch(
                    url=endpoint.url,
                    secret=box.open(endpoint.secret_ciphertext, bound_to=endpoint.id),
                    deliveries=[
                        Claimed(
                            id=row.id,
                            endpoint_id=endpoint_id,
                            webhook_id=event_id(row.event_position),
                            payload=row.payload,
                            attempts=row.attempts,
                        )
                        for row in rows
                    ],
                )
            )
    return batches


def record(runtime: Runtime, results: list[tuple[Batch, list[Outcome]]]) -> None:
    """Write what happened to claimed deliveries, in one transaction.

    Delivered: done. Failed: retried after the schedule's next wait, or failed for
    good (and its endpoint failing) when the schedule is spent. Not sent (behind a
    failure in their batch): due again at once, still behind the failed one.
    """
    now = runtime.clock()
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    attempts: list[dict[str, Any]] = []
    failing: set[str] = set()
    for batch, outcomes in results:
        tried = {outcome.delivery.id for outcome in outcomes}
        for outcome in outcomes:
            delivery = outcome.delivery
            count = delivery.attempts + 1
            attempts.append(
                {
                    "delivery_id": delivery.id,
                    "attempted_at": outcome.attempted_at,
                    "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms,
                    "error": outcome.error,
                }
            )
            change: dict[str, Any] = {"id": delivery.id, "attempts": count}
            if outcome.delivered:
                change |= {"status": str(DeliveryStatus.DELIVERED), "delivered_at": now}
            else:
                delay = retry_delay(count)
                if delay is None:
                    change["status"] = str(DeliveryStatus.FAILED)
                    failing.add(delivery.endpoint_id)
                else:
                    change["next_attempt_at"] = now + delay
            groups[tuple(sorted(change))].append(change)
        for delivery in batch.deliveries:
            if delivery.id not in tried:
                groups[("id", "next_attempt_at")].append(
                    {"id": delivery.id, "next_attempt_at": now}
                )
    with runtime.db.transaction(write=True) as session:
        for changes in groups.values():
            hooks_repo.update_deliveries(session, changes)
        hooks_repo.add_attempts(session, attempts)
        hooks_repo.mark_failing(session, sorted(failing), now=now)
