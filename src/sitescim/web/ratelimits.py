"""Request rate limits with the ``limits`` library: per token and address on SCIM, per
address and account on sign-in.

One budget per token and per sign-in key for the whole deployment when
``SITESCIM_REDIS_URL`` is set (every worker and instance counts in the same
Redis); otherwise each process counts alone. The SCIM limit per address is
always counted per process: a Redis round trip costs more CPU than a whole GET.
Fixed windows: one counter a key (a client may fit up to twice its limit across a
window's edge), the cheapest strategy of the library; a sliding window took three
times that on the hot path.

Counters in this process's memory are ``_LocalCounters``: the library's fixed
window over its memory storage, counted in a dictionary. The library's async
memory storage takes a lock and schedules an expiry task at every hit, which made
its two checks cost 7 % of a GET (issue 9); counting in one event loop needs
neither (no await between reading and writing a counter).

A limiter outage must never become a SCIM outage: when the storage fails, every
request passes unlimited for ``OUTAGE_RETRY_SECONDS``, with one log line, and
then the storage is tried again.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from typing import Any

import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from starlette.exceptions import HTTPException

from sitescim.services.sessions import client_network
from sitescim.settings import Settings
from sitescim.web.metrics import count_rate_limited

log = logging.getLogger(__name__)

OUTAGE_RETRY_SECONDS = 10.0
REDIS_TIMEOUT_SECONDS = 0.25
_PARSED_KEPT = 256
_KEYS_KEPT = 50_000


class RateLimitedError(HTTPException):
    """429 with Retry-After; web/errors.py gives it the SCIM Error shape on /scim."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            429,
            f"Too many requests. Retry after {retry_after_seconds} seconds.",
            headers={"Retry-After": str(retry_after_seconds)},
        )


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        options: dict[str, Any] = {"key_prefix": settings.rate_limit_key_prefix}
        # Our own pool, so that closing the application closes its connections.
        self._pool: redis.asyncio.ConnectionPool | None = None
        if settings.redis_url:
            uri = "async+" + settings.redis_url
            self._pool = redis.asyncio.ConnectionPool.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            options.update(implementation="redispy", connection_pool=self._pool)
        else:
            uri = "async+memory://"
        self._local = _LocalCounters()
        self._shared: _Counters | _LocalCounters = (
            _Counters(storage_from_string(uri, **options)) if settings.redis_url else self._local
        )
        self._scim_per_token = parse_many(settings.rate_limit_scim_per_token)
        self._scim_per_address = parse_many(settings.rate_limit_scim_per_address)
        self._sign_in_per_address = parse_many(settings.rate_limit_sign_in_per_address)
        self._sign_in_per_account = parse_many(settings.rate_limit_sign_in_per_account)
        self._parsed: dict[str, list[RateLimitItem]] = {}

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def check_scim_address(self, address: str | None) -> None:
        """Counted in this process only, even with Redis: a guard against one address's
        flood, where a Redis round trip on every request would cost more than a GET.
        Nothing waits, so no coroutine."""
        self._local.take(self._scim_per_address, ("scim-address", client_network(address)))

    def take_scim_token(self, token_id: str, site_limit: str | None) -> Awaitable[None] | None:
        """Count a SCIM request of this token: at once in this process's memory (None),
        or what to await for the shared storage (Redis)."""
        items = self._scim_per_token if site_limit is None else self._site_items(site_limit)
        shared = self._shared
        if isinstance(shared, _LocalCounters):
            shared.take(items, ("scim-token", token_id))
            return None
        return shared.hit(items, "scim-token", token_id)

    async def check_scim_token(self, token_id: str, site_limit: str | None) -> None:
        pending = self.take_scim_token(token_id, site_limit)
        if pending is not None:
            await pending

    async def check_sign_in(self, *, site: str, email: str, address: str | None) -> None:
        """Per address, and per account from that address (so no one elsewhere locks it)."""
        network = client_network(address)
        await self._shared.hit(self._sign_in_per_address, "sign-in-address", network)
        account = hashlib.sha256(f"{site.casefold()}|{email.casefold()}".encode()).hexdigest()
        await self._shared.hit(self._sign_in_per_account, "sign-in-account", account, network)

    def _site_items(self, notation: str) -> list[RateLimitItem]:
        found = self._parsed.get(notation)
        if found is None:
            try:
                found = parse_many(notation)
            except ValueError:
                found = self._scim_per_token  # validated on write; never refuse for it
            if len(self._parsed) < _PARSED_KEPT:
                self._parsed[notation] = found
        return found


class _Counters:
    """Fixed-window counters in one storage, failing open while it is unreachable."""

    def __init__(self, storage: object) -> None:
        assert isinstance(storage, Storage)
        self._storage: Storage = storage
        self._limiter = FixedWindowRateLimiter(storage)
        self._keys: dict[tuple[RateLimitItem, tuple[str, ...]], str] = {}
        self._down_until = 0.0

    def _key(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
        """The storage key of ``item`` for ``identifiers``, as the library makes it, kept:
        making it took half the time of a check in memory."""
        found = self._keys.get((item, identifiers))
        if found is None:
            found = item.key_for(*identifiers)
            if len(self._keys) < _KEYS_KEPT:
                self._keys[(item, identifiers)] = found
        return found

    async def hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            return
        try:
            for item in items:
                # What FixedWindowRateLimiter.hit does, with the key kept.
                key = self._key(item, identifiers)
                if await self._storage.incr(key, item.get_expiry()) > item.amount:
                    stats = await self._limiter.get_window_stats(item, *identifiers)
                    count_rate_limited(identifiers[0])
                    raise RateLimitedError(max(1, math.ceil(stats.reset_time - time.time())))
        except RateLimitedError:
            raise
        except Exception as error:
            self._down_until = time.monotonic() + OUTAGE_RETRY_SECONDS
            log.warning(
                "rate-limit storage unavailable: requests pass unlimited for %.0f s",
                OUTAGE_RETRY_SECONDS,
                extra={"error": type(error).__name__},
            )
            return
        self._down_until = 0.0


SWEEP_SECONDS = 60.0


class _LocalCounters:
    """Fixed-window counters in this process, as ``FixedWindowRateLimiter`` over the
    library's memory storage counts them: a key's window opens at its first hit and
    lasts the item's expiry; a hit over the item's amount is refused until it ends.

    Keys are the library's (``RateLimitItem.key_for``), kept as ``_Counters`` keeps
    them. Ended windows are swept at most once a minute, as the library's storage
    drops expired keys, so the dictionary holds only the windows still open.
    """

    def __init__(self) -> None:
        self._windows: dict[str, list[float]] = {}  # key -> [hits, end of the window]
        # By the item's id, not the item: hashing an item is a Python call. Each entry
        # holds its item, so no other item can take that id while it is kept.
        self._keys: dict[tuple[int, tuple[str, ...]], tuple[RateLimitItem, str]] = {}
        self._next_sweep = time.time() + SWEEP_SECONDS

    async def hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> None:
        self.take(items, identifiers)

    def take(self, items: Sequence[RateLimitItem], identifiers: tuple[str, ...]) -> None:
        """``hit`` without a coroutine: nothing here waits, and the SCIM lane takes
        two a request."""
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        windows = self._windows
        for item in items:
            lookup = (id(item), identifiers)
            kept = self._keys.get(lookup)
            if kept is None or kept[0] is not item:
                kept = (item, item.key_for(*identifiers))
                if len(self._keys) < _KEYS_KEPT:
                    self._keys[lookup] = kept
            key = kept[1]
            window = windows.get(key)
            if window is None or window[1] <= now:
                window = windows[key] = [0, now + item.get_expiry()]
            window[0] += 1
            if window[0] > item.amount:
                count_rate_limited(identifiers[0])
                raise RateLimitedError(max(1, math.ceil(window[1] - now)))

    def _sweep(self, now: float) -> None:
        self._windows = {key: window for key, window in self._windows.items() if window[1] > now}
        self._next_sweep = now + SWEEP_SECONDS
