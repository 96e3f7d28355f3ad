"""The background worker: webhook fan-out and sending, and periodic jobs.

It runs alone in ``sitescim worker`` (which ``sitescim serve`` starts beside its
HTTP processes) and, when the app is run without ``serve``, in a thread of its
own started in the app's lifespan (web.app). Any number of workers may run
against one database: they share the sending through claims
(db.repositories.webhooks) and fan-out through a compare-and-set on each
endpoint's mark (services.webhook_delivery).

A round fans out new events and hands the due deliveries of as many (endpoint,
site) pairs as there are free sending threads to those threads; each sends its
pair's batch in order, one request at a time, and records the results. After a
round that did something the next starts ``GATHER_SECONDS`` later, so that
events written meanwhile go out in one round: a round costs a few transactions
whatever it carries, and rounds of one event each cost four times the CPU of
rounds of a hundred (bench/events_cost.py), taken from the SCIM writes sharing
the core. When idle the worker waits for a batch to finish or sleeps, twice as
long each time up to ``IDLE_MAX_SECONDS``, so new work waits at most that long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sitescim.services import notices, webhook_delivery
from sitescim.services.runtime import Runtime
from sitescim.services.webhook_sender import Sender
from sitescim.settings import Settings

log = logging.getLogger(__name__)

IDLE_MIN_SECONDS = 0.05
IDLE_MAX_SECONDS = 1.0
GATHER_SECONDS = 0.1
STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """Work done every ``every`` seconds, first soon after the worker starts."""

    name: str
    every: float
    run: Callable[[], object]


HOUR_SECONDS = 3600.0


def standard_jobs(runtime: Runtime, settings: Settings) -> list[PeriodicJob]:
    """The periodic jobs every worker runs: each is safe on every instance at once."""
    return [
        PeriodicJob("webhook history", HOUR_SECONDS, partial(webhook_delivery.prune, runtime)),
        PeriodicJob(
            "token notices",
            notices.RUN_EVERY_SECONDS,
            partial(notices.run_notices, runtime, settings),
        ),
    ]


@dataclass
class Worker:
    runtime: Runtime
    allow_private: bool
    jobs: Sequence[PeriodicJob] = ()
    lease: timedelta = timedelta(seconds=300)
    pairs: int = 16
    per_pair: int = 100
    threads: int = 8
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next_runs: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, runtime: Runtime, settings: Settings, *, jobs: Sequence[PeriodicJob] | None = None
    ) -> Worker:
        return cls(
            runtime=runtime,
            allow_private=settings.webhooks_allow_private,
            jobs=standard_jobs(runtime, settings) if jobs is None else jobs,
            lease=timedelta(seconds=settings.webhooks_lease_seconds),
        )

    def __post_init__(self) -> None:
        self._sender = Sender(allow_private=self.allow_private, clock=self.runtime.clock)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webhook-send")
        self._in_flight: set[Future[int]] = set()
        self._jobs_pool = ThreadPoolExecutor(1, thread_name_prefix="periodic-jobs")
        self._job_runs: dict[str, Future[None]] = {}

    def run_once(self, *, wait: bool = True) -> int:
        """Fan out, then hand due pairs to free sending threads; returns how many
        deliveries were made, claimed, or finished meanwhile (0: nothing happened).

        Each thread sends its pair's batch and records the results itself, so pairs
        finish independently: a slow receiver holds up only its own pairs. ``wait``
        (what tests and the in-process benchmark use): return only once every batch
        handed out is sent and recorded.
        """
        did = webhook_delivery.fan_out(self.runtime) + self._collect()
        free = self.threads - len(self._in_flight)
        if free > 0 and webhook_delivery.has_due(self.runtime):
            batches = webhook_delivery.claim_due(
                self.runtime, pairs=min(free, self.pairs), per_pair=self.per_pair, lease=self.lease
            )
            for batch in batches:
                self._in_flight.add(self._pool.submit(self._deliver, batch))
            did += sum(len(batch.deliveries) for batch in batches)
        if wait:
            futures.wait(self._in_flight)
            self._collect()
        return did

    def _deliver(self, batch: webhook_delivery.Batch) -> int:
        outcomes = self._sender.send(batch)
        webhook_delivery.record(self.runtime, [(batch, outcomes)])
        return len(outcomes)

    def _collect(self) -> int:
        """Settle finished batches; a failed one is logged (its lease runs out, and
        another round sends it again)."""
        finished = {future for future in self._in_flight if future.done()}
        self._in_flight -= finished
        count = 0
        for future in finished:
            try:
                count += future.result()
            except Exception:
                log.exception("webhook batch failed")
        return count

    def _wait_for_any(self, timeout: float) -> None:
        if self._in_flight:
            futures.wait(self._in_flight, timeout=timeout, return_when=futures.FIRST_COMPLETED)
        else:
            self._stop.wait(timeout)

    def run_periodic(self) -> None:
        """Start the jobs that are due, each in the jobs' own thread so that a slow one
        (an SMTP server taking its time) never holds up delivery; a job still running
        is not started again."""
        now = time.monotonic()
        for job in self.jobs:
            running = self._job_runs.get(job.name)
            if self._next_runs.get(job.name, 0.0) > now or (running and not running.done()):
                continue
            self._next_runs[job.name] = now + job.every
            self._job_runs[job.name] = self._jobs_pool.submit(_run_job, job)

    def run_forever(self) -> None:
        """Until ``stop()``; a failing round is logged and tried again after a pause."""
        idle = IDLE_MIN_SECONDS
        while not self._stop.is_set():
            self.run_periodic()
            try:
                did = self.run_once(wait=False)
            except Exception:
                log.exception("webhook delivery round failed")
                did = 0
                idle = IDLE_MAX_SECONDS
            if did:
                idle = IDLE_MIN_SECONDS
                self._stop.wait(GATHER_SECONDS)
                continue
            self._wait_for_any(idle)
            idle = min(idle * 2, IDLE_MAX_SECONDS)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name="sitescim-worker", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Let the batches on their way finish (their results are recorded), then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._jobs_pool.shutdown(wait=True)
        self._sender.close()


def _run_job(job: PeriodicJob) -> None:
    try:
        job.run()
    except Exception:
        log.exception("periodic job failed", extra={"job": job.name})
