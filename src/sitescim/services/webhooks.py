"""Webhook endpoints as the operator manages them: add (the secret shown once), list,
remove, resume, and each endpoint's deliveries and attempts, with redelivery.

Reach of an operator key (the API passes it as ``within``, the CLI passes None):
a key for every site manages every endpoint; a key limited to some sites
manages only endpoints limited to those sites (one it adds without sites is
limited to the key's own), and any other endpoint is answered as absent (404),
as a site outside a key is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sitescim.db.application_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sitescim.db.models import new_id
from sitescim.db.repositories import webhooks as hooks_repo
from sitescim.domain.errors import InvalidInputError, NotFoundError
from sitescim.domain.events import event_id, parse_types
from sitescim.domain.secret_box import SecretBox
from sitescim.domain.webhooks import DeliveryStatus, EndpointStatus, generate_secret
from sitescim.services import webhook_targets
from sitescim.services.runtime import Runtime
from sitescim.services.site_lists import site_ids_of, slugs_of

SECRET_LABEL = b"sitescim webhook signing secrets v1"
MAX_DELIVERIES_PAGE = 500


def secret_box(runtime: Runtime) -> SecretBox:
    return SecretBox(runtime.pepper, label=SECRET_LABEL)


@dataclass(frozen=True, slots=True)
class EndpointView:
    """What a list shows of an endpoint: never its secret. ``sites``: slugs; None: all."""

    id: str
    url: str
    sites: list[str] | None
    types: list[str] | None
    status: str
    created_at: datetime
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    view: EndpointView
    secret: str
    """The signing secret (``whsec_…``), shown this once."""


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    site_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


def add_endpoint(
    runtime: Runtime,
    url: str,
    *,
    site_slugs: Sequence[str] = (),
    types: Sequence[str] = (),
    allow_private: bool,
    within: Collection[str] | None = None,
) -> CreatedEndpoint:
    """Register an endpoint for events from now on (earlier ones are in the feed).

    Bad input (URL, type, site) is refused before anything is written.
    """
    webhook_targets.resolve(url, allow_private=allow_private)
    chosen_types = parse_types(",".join(types))
    secret = generate_secret()
    now = runtime.clock()
    endpoint_id = new_id()
    with runtime.db.transaction(write=True) as session:
        site_ids = site_ids_of(session, site_slugs)
        if within is not None:
            if site_ids is None:
                site_ids = sorted(within)
            elif not set(site_ids) <= set(within):
                raise NotFoundError("No such site.")
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            url=url.strip(),
            site_ids=site_ids,
            types=None if chosen_types is None else sorted(str(t) for t in chosen_types),
            secret_ciphertext=secret_box(runtime).seal(secret, bound_to=endpoint_id),
            status=str(EndpointStatus.ACTIVE),
            created_at=now,
            fanout_position=hooks_repo.settled_last_position(session),
        )
        hooks_repo.add_endpoint(session, endpoint)
        view = _view(session, endpoint)
    return CreatedEndpoint(view=view, secret=secret)


def list_endpoints(
    runtime: Runtime, *, within: Collection[str] | None = None
) -> list[EndpointView]:
    with runtime.db.transaction(write=False) as session:
        return [
            _view(session, endpoint)
            for endpoint in hooks_repo.list_endpoints(session)
            if _reaches(endpoint, within)
        ]


def remove_endpoint(
    runtime: Runtime, endpoint_id: str, *, within: Collection[str] | None = None
) -> EndpointView:
    """Nothing more is sent to it: its pending deliveries become failed. Its history
    stays listed."""
    with runtime.db.transaction(write=True) as session:
        endpoint = _endpoint(session, endpoint_id, within)
        if endpoint.status != EndpointStatus.REMOVED:
            endpoint.status = str(EndpointStatus.REMOVED)
            endpoint.removed_at = runtime.clock()
            hooks_repo.drop_pending(session, endpoint.id)
            session.flush()
        return _view(session, endpoint)


def resume_endpoint(
    runtime: Runtime, endpoint_id: str, *, within: Collection[str] | None = None
) -> EndpointView:
    """A failing endpoint becomes active; its failed deliveries are tried again, in order,
    before anything newer, each with a fresh retry schedule."""
    now = runtime.clock()
    with runtime.db.transaction(write=True) as session:
        endpoint = _endpoint(session, endpoint_id, within)
        if endpoint.status == EndpointStatus.REMOVED:
            raise NotFoundError("No such webhook endpoint.")
        hooks_repo.requeue_failed(session, endpoint.id, now=now)
        endpoint.status = str(EndpointStatus.ACTIVE)
        endpoint.failing_since = None
        session.flush()
        return _view(session, endpoint)


def list_deliveries(
    runtime: Runtime,
    endpoint_id: str,
    *,
    status: str | None = None,
    limit: int = 100,
    within: Collection[str] | None = None,
) -> list[DeliveryView]:
    if status is not None and status not in set(DeliveryStatus):
        raise InvalidInputError("status", f"must be one of {', '.join(DeliveryStatus)}")
    with runtime.db.transaction(write=False) as session:
        endpoint = _endpoint(session, endpoint_id, within)
        rows = hooks_repo.list_deliveries(
            session, endpoint.id, status=status, limit=max(1, min(limit, MAX_DELIVERIES_PAGE))
        )
        return [_delivery_view(row) for row in rows]


def list_attempts(
    runtime: Runtime, endpoint_id: str, delivery_id: int, *, within: Collection[str] | None = None
) -> list[AttemptView]:
    with runtime.db.transaction(write=False) as session:
        delivery = _delivery(session, endpoint_id, delivery_id, within)
        return [_attempt_view(row) for row in hooks_repo.list_attempts(session, delivery.id)]


def redeliver(
    runtime: Runtime, endpoint_id: str, delivery_id: int, *, within: Collection[str] | None = None
) -> DeliveryView:
    """Send a delivery again (delivered or failed alike), with the same id and body.

    It goes before any later delivery of its endpoint and site still pending. On a
    failing endpoint it waits until the endpoint is resumed.
    """
    now = runtime.clock()
    with runtime.db.transaction(write=True) as session:
        delivery = _delivery(session, endpoint_id, delivery_id, within)
        delivery.status = str(DeliveryStatus.PENDING)
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.delivered_at = None
        session.flush()
        return _delivery_view(delivery)


def _reaches(endpoint: WebhookEndpoint, within: Collection[str] | None) -> bool:
    if within is None:
        return True
    return endpoint.site_ids is not None and set(endpoint.site_ids) <= set(within)


def _endpoint(
    session: Session, endpoint_id: str, within: Collection[str] | None
) -> WebhookEndpoint:
    endpoint = hooks_repo.get_endpoint(session, endpoint_id)
    if endpoint is None or not _reaches(endpoint, within):
        raise NotFoundError("No such webhook endpoint.")
    return endpoint


def _delivery(
    session: Session, endpoint_id: str, delivery_id: int, within: Collection[str] | None
) -> WebhookDelivery:
    endpoint = _endpoint(session, endpoint_id, within)
    delivery = hooks_repo.get_delivery(session, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFoundError("No such delivery.")
    return delivery


def _view(session: Session, endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=endpoint.id,
        url=endpoint.url,
        sites=slugs_of(session, endpoint.site_ids),
        types=endpoint.types,
        status=endpoint.status,
        created_at=endpoint.created_at,
        failing_since=endpoint.failing_since,
    )


def _delivery_view(row: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        event_id=event_id(row.event_position),
        event_type=row.event_type,
        site_id=row.site_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _attempt_view(row: WebhookAttempt) -> AttemptView:
    return AttemptView(
        attempted_at=row.attempted_at,
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        error=row.error,
    )
