"""``/api/v1/webhooks``: the operator's webhook endpoints, for an operator API key.

A key for every site manages every endpoint; a key limited to some sites only
endpoints limited to those sites (services.webhooks explains), and sees no other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from sitescim.domain.webhooks import MAX_URL_LENGTH
from sitescim.services import webhooks
from sitescim.web.api.operator import OperatorKeyDep
from sitescim.web.deps import JsonBody, RuntimeDep, SettingsDep

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class AddWebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=MAX_URL_LENGTH, description="An http(s) URL, no credentials")
    sites: list[str] | None = Field(
        default=None, max_length=1000, description="Site slugs; omitted: every site the key reads"
    )
    types: list[str] | None = Field(
        default=None, max_length=50, description="Event types; omitted: all"
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    sites: list[str] | None = Field(description="Site slugs; null: every site")
    types: list[str] | None = Field(description="Event types; null: all")
    status: str = Field(description="active, failing (retries ran out: paused) or removed")
    created_at: datetime
    failing_since: datetime | None

    @classmethod
    def of(cls, view: webhooks.EndpointView) -> WebhookOut:
        return cls(
            id=view.id,
            url=view.url,
            sites=view.sites,
            types=view.types,
            status=view.status,
            created_at=view.created_at,
            failing_since=view.failing_since,
        )


class CreatedWebhook(WebhookOut):
    secret: str = Field(
        description="The signing secret (whsec_…). Shown in this response only; store it now."
    )


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="Also the webhook-id header, kept by a redelivery")
    event_type: str
    site_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, view: webhooks.DeliveryView) -> DeliveryOut:
        return cls(
            id=view.id,
            event_id=view.event_id,
            event_type=view.event_type,
            site_id=view.site_id,
            status=view.status,
            attempts=view.attempts,
            next_attempt_at=view.next_attempt_at,
            created_at=view.created_at,
            delivered_at=view.delivered_at,
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class AttemptList(BaseModel):
    attempts: list[AttemptOut]


@router.post("", status_code=201, dependencies=[JsonBody])
def add_webhook(
    body: AddWebhookBody,
    response: Response,
    key: OperatorKeyDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> CreatedWebhook:
    """Register an endpoint for events from now on. The response is the only place its
    signing secret ever appears."""
    created = webhooks.add_endpoint(
        runtime,
        body.url,
        site_slugs=body.sites or (),
        types=body.types or (),
        allow_private=settings.webhooks_allow_private,
        within=key.site_ids,
    )
    response.headers["Cache-Control"] = "no-store"
    return CreatedWebhook(**WebhookOut.of(created.view).model_dump(), secret=created.secret)


@router.get("")
def list_webhooks(key: OperatorKeyDep, runtime: RuntimeDep) -> WebhookList:
    views = webhooks.list_endpoints(runtime, within=key.site_ids)
    return WebhookList(webhooks=[WebhookOut.of(view) for view in views])


@router.delete("/{endpoint_id}")
def remove_webhook(endpoint_id: str, key: OperatorKeyDep, runtime: RuntimeDep) -> WebhookOut:
    return WebhookOut.of(webhooks.remove_endpoint(runtime, endpoint_id, within=key.site_ids))


@router.post("/{endpoint_id}/resume")
def resume_webhook(endpoint_id: str, key: OperatorKeyDep, runtime: RuntimeDep) -> WebhookOut:
    """A failing endpoint becomes active; its failed deliveries are sent first, in order."""
    return WebhookOut.of(webhooks.resume_endpoint(runtime, endpoint_id, within=key.site_ids))


@router.get("/{endpoint_id}/deliveries")
def list_deliveries(
    endpoint_id: str,
    key: OperatorKeyDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(description="pending, delivered or failed")] = None,
    limit: Annotated[int, Query(ge=1, le=webhooks.MAX_DELIVERIES_PAGE)] = 100,
) -> DeliveryList:
    """Newest first."""
    views = webhooks.list_deliveries(
        runtime, endpoint_id, status=status, limit=limit, within=key.site_ids
    )
    return DeliveryList(deliveries=[DeliveryOut.of(view) for view in views])


@router.get("/{endpoint_id}/deliveries/{delivery_id}/attempts")
def list_attempts(
    endpoint_id: str, delivery_id: int, key: OperatorKeyDep, runtime: RuntimeDep
) -> AttemptList:
    views = webhooks.list_attempts(runtime, endpoint_id, delivery_id, within=key.site_ids)
    return AttemptList(
        attempts=[
            AttemptOut(
                attempted_at=v.attempted_at,
                status_code=v.status_code,
                latency_ms=v.latency_ms,
                error=v.error,
            )
            for v in views
        ]
    )


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    endpoint_id: str, delivery_id: int, key: OperatorKeyDep, runtime: RuntimeDep
) -> DeliveryOut:
    """Send it again with the same webhook-id and body, before later ones of its site."""
    return DeliveryOut.of(
        webhooks.redeliver(runtime, endpoint_id, delivery_id, within=key.site_ids)
    )
