"""Webhook delivery's network side: signed POSTs per the Standard Webhooks specification.

Kept-alive connections for every endpoint (services.webhook_connections), with
connect and read timeouts, following no redirect (a 3xx is a failed attempt: a
receiver that moved must be registered again, not followed to wherever it
points). The host is resolved and checked before every batch, and the request
goes to the address that was checked, under the URL's own name (Host header,
TLS server name).
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from sitescim.domain.clock import Clock, system_clock
from sitescim.domain.errors import InvalidInputError
from sitescim.services.webhook_connections import ConnectionPool, Destination
from sitescim.services.webhook_delivery import Batch, Claimed, Outcome
from sitescim.services.webhook_targets import Resolved, resolve

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
MAX_ERROR_LENGTH = 300
USER_AGENT = "sitescim-webhooks/1"


def encode(payload: dict[str, object]) -> str:
    """The body's bytes, the same every time a delivery is sent (its signature covers them)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Sender:
    """Sends batches; ``clock`` only times attempts and schedules, never the signature,
    which receivers check against their own wall clock."""

    def __init__(
        self,
        *,
        allow_private: bool,
        clock: Clock = system_clock,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``verify``: the certificates trusted for https (the system's by default)."""
        self.allow_private = allow_private
        self.clock = clock
        if isinstance(verify, ssl.SSLContext):
            tls = verify
        elif verify:
            tls = ssl.create_default_context()
        else:
            tls = ssl._create_unverified_context()  # noqa: S323 - only when asked for
        self.connections = ConnectionPool(
            tls=tls, connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS
        )

    def close(self) -> None:
        self.connections.close()

    def send(self, batch: Batch) -> list[Outcome]:
        """Send the batch in order, stopping at the first failure (order per pair)."""
        outcomes: list[Outcome] = []
        started = time.monotonic()
        try:
            resolved = resolve(batch.url, allow_private=self.allow_private)
        except InvalidInputError as refused:
            head = batch.deliveries[0]
            return [self._outcome(head, started, None, f"refused: {refused.message}")]
        signer = Webhook(batch.secret)
        target = resolved.target
        destination = Destination(target.scheme, resolved.address, target.port, target.host)
        parts = urlsplit(target.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for delivery in batch.deliveries:
            outcome = self._send_one(resolved, destination, path, signer, delivery)
            outcomes.append(outcome)
            if not outcome.delivered:
                break
        return outcomes

    def _send_one(
        self,
        resolved: Resolved,
        destination: Destination,
        path: str,
        signer: Webhook,
        delivery: Claimed,
    ) -> Outcome:
        data = encode(delivery.payload)
        signed_at = datetime.now(UTC)
        headers = {
            "Host": _host_header(resolved),
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": signer.sign(delivery.webhook_id, signed_at, data),
        }
        started = time.monotonic()
        try:
            status = self.connections.post(destination, path, data.encode(), headers)
        except (OSError, http.client.HTTPException) as error:
            return self._outcome(delivery, started, None, _describe(error))
        if 200 <= status < 300:
            return self._outcome(delivery, started, status, None)
        note = " (redirects are not followed)" if 300 <= status < 400 else ""
        return self._outcome(delivery, started, status, f"HTTP {status}{note}")

    def _outcome(
        self, delivery: Claimed, started: float, status: int | None, error: str | None
    ) -> Outcome:
        return Outcome(
            delivery=delivery,
            attempted_at=self.clock(),
            status_code=status,
            latency_ms=round((time.monotonic() - started) * 1000),
            error=error,
        )


def _host_header(resolved: Resolved) -> str:
    target = resolved.target
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _describe(error: OSError | http.client.HTTPException) -> str:
    """The kind of failure and the transport's words for it; never a header or the body."""
    kind = type(error).__name__
    detail = str(error).strip()
    text = f"{kind}: {detail}" if detail else kind
    return text[:MAX_ERROR_LENGTH]
