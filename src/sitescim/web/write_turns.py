"""SQLite's one write at a time, handed round the sites in turn.

SQLite has one writer. Waiting in arrival order, a site that sends three
heavy Bulk requests makes every other site wait for all three; here each
waiting site has its own queue and the turn goes round the sites, so another
site's write waits for at most the one write that holds the turn. Within a
site, writes keep their order.

Turns are handed out on the event loop before a write goes to its thread;
the engine's lock (db.engine) still guards writes from elsewhere (the UI, the
CLI), which are few.

A short write (``ShortWrite``: a few statements, nothing slow) does not wait
for a thread at all when no write holds the turn and the lock is free: it
runs on the event loop (db.short_writes), whole, so nothing interleaves with
it and no waiting write is overtaken.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    from sitescim.db.engine import Database

P = ParamSpec("P")
T = TypeVar("T")


class ShortWrite(Generic[P, T]):
    """A use case marked short for ``ScimRequest.write``: it may run on the event loop."""

    __slots__ = ("use_case",)

    def __init__(self, use_case: Callable[P, T]) -> None:
        self.use_case = use_case

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.use_case(*args, **kwargs)


async def write_here(
    db: Database, use_case: Callable[..., T], args: tuple[object, ...]
) -> tuple[T] | None:
    """``use_case(session, *args)`` written on this thread: its outcome, or None
    when the lock is not free at once (nothing was done)."""
    short = db.short_writes()
    if short is None or not short.begin():
        return None
    after: list[Callable[[], None]] = []
    try:
        with short.transaction(after) as session:
            return (use_case(session, *args),)
    finally:
        if after:  # a refusal is audited in a transaction of its own, which may wait
            await anyio.to_thread.run_sync(partial(_run_all, after))


def write_pooled(db: Database, use_case: Callable[..., T], args: tuple[object, ...]) -> T:
    """``use_case(session, *args)`` in a worker thread, in the lighter transaction of a
    short write on PostgreSQL (``Database.pooled_transaction``)."""
    after: list[Callable[[], None]] = []
    try:
        with db.pooled_transaction(after) as session:
            return use_case(session, *args)
    finally:
        _run_all(after)


def _run_all(hooks: list[Callable[[], None]]) -> None:
    for hook in hooks:
        hook()


class WriteTurns:
    def __init__(self) -> None:
        self._busy = False
        self._holder: str | None = None
        self._waiting: OrderedDict[str, deque[anyio.Event]] = OrderedDict()

    @property
    def busy(self) -> bool:
        """Whether a write holds the turn (then others wait for it)."""
        return self._busy

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    async def run(
        self,
        site_id: str,
        here: Callable[[], Awaitable[tuple[T] | None]],
        work: Callable[[], T],
    ) -> T:
        """A short write: ``here`` on the event loop if the turn and the lock are free,
        else in its turn, ``here`` again, or ``work`` in a worker thread if the lock
        is still taken (by the UI, the CLI or another process)."""
        if not self._busy:
            done = await here()
            if done is not None:
                return done[0]
        async with self.turn(site_id):
            done = await here()
            if done is not None:
                return done[0]
            return await anyio.to_thread.run_sync(work)

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
