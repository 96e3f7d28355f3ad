"""Tables of the application's side (spec section 6): the event outbox, operator
API keys, webhook endpoints with their deliveries and attempts, and token-expiry
notices with the e-mails they send.

``events.position`` is the feed's order. Positions are handed out in commit
order (services.events explains how), so a consumer that keeps the last
position it read never skips one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sitescim.db.base import Base
from sitescim.db.models import BigIntId, UTCDateTime, new_id


class Event(Base):
    """One change, as the application learns of it. Never a password or a token value."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_site_id_position", "site_id", "position"),
        Index("ix_events_occurred_at", "occurred_at"),
        Index(
            "ix_events_unpositioned",
            "id",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # The feed's order, given as the writing transaction commits; NULL until then.
    position: Mapped[int | None] = mapped_column(BigIntId, unique=True, nullable=True)
    type: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_label: Mapped[str | None] = mapped_column(String(320))
    resource_type: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[str] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What changed, for the event types that say: attribute names, member ids.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ApiKey(Base):
    """An operator key for the events feed and reconciliation reads. Only its keyed hash is kept.

    ``site_ids`` None: every site; a list: those sites only.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(100))
    site_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEndpoint(Base):
    """Where events are pushed. The signing secret is kept encrypted: it must be recoverable to sign.

    ``site_ids``/``types`` None: all. ``fanout_position``: the last event position
    turned into deliveries for this endpoint. ``status``: active, failing, removed.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    site_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    types: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fanout_position: Mapped[int] = mapped_column(BigIntId, default=0)


class WebhookDelivery(Base):
    """One event owed to one endpoint; delivered in position order per (endpoint, site).

    ``status``: pending, delivered, failed (retries exhausted). A redelivery
    keeps the event's id as its ``webhook-id``.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_endpoint_id_site_id_status_event_position",
            "endpoint_id",
            "site_id",
            "status",
            "event_position",
        ),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    event_position: Mapped[int] = mapped_column(BigIntId)
    event_type: Mapped[str] = mapped_column(String(40))
    # The whole webhook body, fixed when the delivery is made: a redelivery sends the same.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    """One try at a delivery: what came back (or what went wrong) and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class TokenNotice(Base):
    """A token-expiry notice given: one row per token and threshold, across every instance."""

    __tablename__ = "token_notices"

    token_id: Mapped[str] = mapped_column(
        ForeignKey("access_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    threshold: Mapped[str] = mapped_column(String(16), primary_key=True)
    noticed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EmailMessage(Base):
    """An e-mail owed (an outbox): written with the notice, sent by the worker after commit."""

    __tablename__ = "email_messages"
    __table_args__ = (
        Index("ix_email_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
