"""A per-process brake on audit writes for repeated failures.

The bound on disk use comes from the database (one audit row per dedup key and
window); this only spares the database a write for every request of a flood.
Counts seen here are added to the row at most once per ``flush_interval``; the
last interval of a window may be lost if the flood stops, which the audit
record tolerates (it says "at least N").
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_KEYS = 10_000


class FailureThrottle:
    def __init__(self, flush_interval: float = 1.0) -> None:
        self._flush_interval = flush_interval
        self._pending: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, *, monotonic: float | None = None) -> int:
        """How many occurrences to write now; 0 means skip the write."""
        now = time.monotonic() if monotonic is None else monotonic
        with self._lock:
            count, last_flush = self._pending.pop(key, (0, float("-inf")))
            count += 1
            if now - last_flush >= self._flush_interval:
                self._pending[key] = (0, now)
                self._trim()
                return count
            self._pending[key] = (count, last_flush)
            self._trim()
            return 0

    def _trim(self) -> None:
        while len(self._pending) > MAX_KEYS:
            self._pending.popitem(last=False)
