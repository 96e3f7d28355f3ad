"""Webhook delivery's network side: signed POSTs per the Standard Webhooks specification.

One keep-alive ``httpx.Client`` for every endpoint, with connect and read
timeouts, following no redirect (a 3xx is a failed attempt: a receiver that
moved must be registered again, not followed to wherever it points). The host
is resolved and checked before every batch, and the request goes to the address
that was checked, under the URL's own name (Host header, TLS server name).
"""

from __future__ import annotations

import json
import ssl
import time
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from sitescim.domain.clock import Clock, system_clock
from sitescim.domain.errors import InvalidInputError
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
        self.client = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"user-agent": USER_AGENT},
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

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
        url = httpx.URL(resolved.target.url).copy_with(host=resolved.address)
        for delivery in batch.deliveries:
            outcome = self._send_one(resolved, url, signer, delivery)
            outcomes.append(outcome)
            if not outcome.delivered:
                break
        return outcomes

    def _send_one(
        self, resolved: Resolved, url: httpx.URL, signer: Webhook, delivery: Claimed
    ) -> Outcome:
        data = encode(delivery.payload)
        signed_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": signer.sign(delivery.webhook_id, signed_at, data),
            "host": _host_header(resolved),
        }
        extensions = (
            {"sni_hostname": resolved.target.host} if resolved.target.scheme == "https" else {}
        )
        started = time.monotonic()
        try:
            response = self.client.post(
                url, content=data.encode(), headers=headers, extensions=extensions
            )
        except httpx.HTTPError as error:
            return self._outcome(delivery, started, None, _describe(error))
        if 200 <= response.status_code < 300:
            return self._outcome(delivery, started, response.status_code, None)
        note = " (redirects are not followed)" if response.is_redirect else ""
        return self._outcome(
            delivery, started, response.status_code, f"HTTP {response.status_code}{note}"
        )

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


def _describe(error: httpx.HTTPError) -> str:
    """The kind of failure and the transport's words for it; never a header or the body."""
    kind = type(error).__name__
    detail = str(error).strip()
    text = f"{kind}: {detail}" if detail else kind
    return text[:MAX_ERROR_LENGTH]
