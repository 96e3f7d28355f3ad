"""SQLite's one write at a time, handed round the sites in turn.

SQLite has one writer. Waiting in arrival order, a site that sends three
heavy Bulk requests makes every other site wait for all three; here each
waiting site has its own queue and the turn goes round the sites, so another
site's write waits for at most the one write that holds the turn. Within a
site, writes keep their order.

Turns are handed out on the event loop before a write goes to its thread;
the engine's lock (db.engine) still guards writes from elsewhere (the UI, the
CLI), which are few.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


class WriteTurns:
    def __init__(self) -> None:
        self._busy = False
        self._holder: str | None = None
        self._waiting: OrderedDict[str, deque[anyio.Event]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def turn(self, site_id: str) -> AsyncIterator[None]:
        if self._busy:
            await self._wait(site_id)
        else:
            self._busy = True
        self._holder = site_id
        try:
            yield
        finally:
            self._pass_on()

    async def _wait(self, site_id: str) -> None:
        granted = anyio.Event()
        queue = self._waiting.setdefault(site_id, deque())
        queue.append(granted)
        try:
            await granted.wait()
        except BaseException:  # cancelled while waiting: leave the queue, or pass a turn on
            if granted.is_set():
                self._pass_on()
            else:
                queue.remove(granted)
                if not queue:
                    del self._waiting[site_id]
            raise

    def _pass_on(self) -> None:
        """The next site in the round gets the turn; the site that had it goes to the back."""
        if not self._waiting:
            self._busy = False
            return
        holder = self._holder
        if holder is not None and holder in self._waiting:
            self._waiting.move_to_end(holder)
        site_id, queue = next(iter(self._waiting.items()))
        granted = queue.popleft()
        if queue:
            self._waiting.move_to_end(site_id)
        else:
            del self._waiting[site_id]
        granted.set()
