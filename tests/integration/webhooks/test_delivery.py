"""Delivery: signed, at least once, in order per (endpoint, site), through an outage,
retried on the schedule, failing when it is spent, resumed by the operator."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from sitescim.db.engine import Database, make_engine
from sitescim.domain.events import EventType, parse_event_id
from sitescim.domain.webhooks import RETRY_SCHEDULE
from sitescim.services import events, webhook_delivery, webhooks
from sitescim.services.audit import Who
from sitescim.services.runtime import Runtime
from sitescim.services.webhooks import CreatedEndpoint
from sitescim.services.worker import PeriodicJob, Worker
from sitescim.settings import Settings
from tests.integration.webhooks.receiver import Receiver, as_json, event_ids_by_site
from tests.world import FakeClock, World

SYSTEM = Who(kind="system")


def _emit(world: World, site: str, *names: str) -> None:
    """One transaction writing one user.created event per name, on ``site``."""
    with world.runtime.db.transaction(write=True) as session:
        events.emit(
            session,
            *(
                events.NewEvent(
                    type=EventType.USER_CREATED,
                    site_id=site,
                    resource_id=name,
                    data={"id": name, "userName": name},
                    who=SYSTEM,
                    now=world.runtime.clock(),
                )
                for name in names
            ),
        )


_REGISTERED_AFTER: dict[int, int] = {}
"""The last feed position when a world's endpoint was registered: what it is owed
starts after it (the world's own set-up writes events too)."""


def _register(world: World, receiver: Receiver, **options: object) -> CreatedEndpoint:
    page = events.read_feed(world.runtime, events.FeedQuery(limit=events.MAX_PAGE))
    last = page.events[-1]["id"] if page.events else "evt_0"
    _REGISTERED_AFTER[id(world)] = parse_event_id(last)
    created = webhooks.add_endpoint(
        world.runtime,
        receiver.url + "/hooks",
        allow_private=True,
        **options,  # type: ignore[arg-type]
    )
    receiver.secret = created.secret
    return created


def _drain(worker: Worker, clock: FakeClock, *, rounds: int = 50) -> None:
    """Rounds until one finds nothing, moving time past each retry wait."""
    for _ in range(rounds):
        if not worker.run_once():
            clock.advance(seconds=RETRY_SCHEDULE[-1].total_seconds())
            if not worker.run_once():
                return
    raise AssertionError("deliveries did not settle")


def _feed_ids_by_site(world: World) -> dict[str, list[str]]:
    after = _REGISTERED_AFTER.get(id(world), 0)
    page = events.read_feed(world.runtime, events.FeedQuery(after=after, limit=events.MAX_PAGE))
    by_site: dict[str, list[str]] = {}
    for event in page.events:
        by_site.setdefault(event["site"]["slug"], []).append(event["id"])
    return by_site


def test_every_event_arrives_signed_and_in_order_per_site_after_an_outage(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    _register(world, receiver)
    outage = {"on": True}
    receiver.answer = lambda _path: 500 if outage["on"] else 204
    for round_ in range(6):
        _emit(world, world.site_a, f"a{round_}-1", f"a{round_}-2")
        _emit(world, world.site_b, f"b{round_}")

    # The outage: each pair's oldest delivery is tried on the schedule, nothing after it.
    for wait in RETRY_SCHEDULE[:4]:
        assert worker.run_once() > 0
        clock.advance(seconds=wait.total_seconds())
    assert receiver.delivered() == []
    assert {r.webhook_id for r in receiver.requests} == {
        ids[0] for ids in _feed_ids_by_site(world).values()
    }
    _emit(world, world.site_a, "during-outage")

    outage["on"] = False
    _drain(worker, clock)

    assert receiver.unverified() == []
    assert event_ids_by_site(receiver.delivered()) == _feed_ids_by_site(world)
    # Nothing was sent twice once delivered, and every body is the Standard Webhooks one.
    delivered_ids = [r.webhook_id for r in receiver.delivered()]
    assert len(delivered_ids) == len(set(delivered_ids)) == 6 * 3 + 1
    first = as_json(receiver.delivered()[0])
    assert set(first) == {"type", "timestamp", "data"}
    assert first["data"]["id"] == receiver.delivered()[0].webhook_id
    assert first["timestamp"] == first["data"]["occurred_at"]


def test_attempts_are_recorded_with_status_latency_and_error(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    answers = iter([503, 500, 204])
    receiver.answer = lambda _path: next(answers)
    _emit(world, world.site_a, "ada")
    _drain(worker, clock)

    (delivery,) = webhooks.list_deliveries(world.runtime, created.view.id)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    attempts = webhooks.list_attempts(world.runtime, created.view.id, delivery.id)
    assert [(a.status_code, a.error) for a in attempts] == [
        (503, "HTTP 503"),
        (500, "HTTP 500"),
        (204, None),
    ]
    assert all(a.latency_ms >= 0 for a in attempts)
    # The retry waited as the schedule says.
    assert attempts[1].attempted_at - attempts[0].attempted_at >= RETRY_SCHEDULE[0]


def test_when_retries_run_out_the_endpoint_is_failing_until_resumed(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    down = {"on": True}
    receiver.answer = lambda _path: 500 if down["on"] else 200
    _emit(world, world.site_a, "first")
    started = clock()
    _drain(worker, clock)

    (failed,) = webhooks.list_deliveries(world.runtime, created.view.id)
    assert (failed.status, failed.attempts) == ("failed", len(RETRY_SCHEDULE) + 1)
    (endpoint,) = webhooks.list_endpoints(world.runtime)
    assert endpoint.status == "failing"
    assert endpoint.failing_since is not None
    assert endpoint.failing_since - started >= sum(RETRY_SCHEDULE[1:], RETRY_SCHEDULE[0])
    tried = len(receiver.requests)

    # While failing, later events are collected, not sent.
    _emit(world, world.site_a, "second")
    _drain(worker, clock)
    assert len(receiver.requests) == tried
    statuses = [d.status for d in webhooks.list_deliveries(world.runtime, created.view.id)]
    assert statuses == ["pending", "failed"]

    down["on"] = False
    assert webhooks.resume_endpoint(world.runtime, created.view.id).status == "active"
    _drain(worker, clock)
    assert event_ids_by_site(receiver.delivered()) == _feed_ids_by_site(world)
    assert webhooks.list_endpoints(world.runtime)[0].status == "active"


def test_a_redelivery_sends_the_same_id_and_bytes(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    _emit(world, world.site_b, "bea")
    _drain(worker, clock)
    (delivery,) = webhooks.list_deliveries(world.runtime, created.view.id)

    again = webhooks.redeliver(world.runtime, created.view.id, delivery.id)
    assert again.status == "pending"
    _drain(worker, clock)
    first, second = receiver.delivered()
    assert first.webhook_id == second.webhook_id == delivery.event_id
    assert first.body == second.body
    assert receiver.unverified() == []


def test_endpoints_get_only_their_sites_and_types(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    _register(world, receiver, site_slugs=["site-b"], types=["user.deleted"])
    _emit(world, world.site_b, "created-on-b")
    with world.runtime.db.transaction(write=True) as session:
        for site in (world.site_a, world.site_b):
            events.emit(
                session,
                events.NewEvent(
                    type=EventType.USER_DELETED,
                    site_id=site,
                    resource_id="gone",
                    data={"id": "gone"},
                    who=SYSTEM,
                    now=clock(),
                ),
            )
    _drain(worker, clock)
    (only,) = receiver.delivered()
    assert only.payload is not None
    assert (only.site, only.payload["type"]) == ("site-b", "user.deleted")


def test_events_before_an_endpoint_existed_are_not_sent_to_it(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    _emit(world, world.site_a, "before")
    _register(world, receiver)
    _emit(world, world.site_a, "after")
    _drain(worker, clock)
    assert [r.payload["data"]["data"]["id"] for r in receiver.delivered() if r.payload] == ["after"]


def test_redirects_are_not_followed(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    receiver.answer = lambda path: 302 if path == "/hooks" else 204
    _emit(world, world.site_a, "ada")
    worker.run_once()
    assert [r.path for r in receiver.requests] == ["/hooks"]
    (delivery,) = webhooks.list_deliveries(world.runtime, created.view.id)
    (attempt,) = webhooks.list_attempts(world.runtime, created.view.id, delivery.id)
    assert attempt.status_code == 302
    assert attempt.error == "HTTP 302 (redirects are not followed)"


def test_a_refused_connection_is_an_attempt_and_no_secret_is_recorded(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    with world.runtime.db.transaction(write=True) as session:
        session.execute(
            text("UPDATE webhook_endpoints SET url = :url"), {"url": "http://127.0.0.1:9/hooks"}
        )
    _emit(world, world.site_a, "ada")
    worker.run_once()
    (delivery,) = webhooks.list_deliveries(world.runtime, created.view.id)
    (attempt,) = webhooks.list_attempts(world.runtime, created.view.id, delivery.id)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("ConnectionRefusedError")
    with world.runtime.db.transaction(write=False) as session:
        dump = " ".join(
            str(row)
            for table in ("webhook_endpoints", "webhook_deliveries", "webhook_attempts", "events")
            for row in session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
        )
    secret_body = created.secret.removeprefix("whsec_")
    assert secret_body not in dump


def test_two_workers_share_the_sending_without_sending_twice(
    world: World, receiver: Receiver, settings: Settings, clock: FakeClock
) -> None:
    """Two instances (each its own engine and connections) running rounds at once."""
    _register(world, receiver)
    for n in range(40):
        _emit(world, world.site_a, f"a{n}")
        _emit(world, world.site_b, f"b{n}")
    databases = [Database(make_engine(settings.database_url)) for _ in range(2)]
    workers = [
        Worker(
            Runtime.from_settings(settings, database, clock=clock),
            allow_private=True,
            per_pair=5,
        )
        for database in databases
    ]
    failures: list[BaseException] = []

    def drive(worker: Worker) -> None:
        try:
            idle = 0
            while idle < 3:
                idle = idle + 1 if not worker.run_once() else 0
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=drive, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for worker, database in zip(workers, databases, strict=True):
        worker.close()
        database.dispose()
    assert failures == []
    ids = [r.webhook_id for r in receiver.delivered()]
    assert len(ids) == len(set(ids)) == 80
    assert event_ids_by_site(receiver.delivered()) == _feed_ids_by_site(world)


def test_the_address_is_checked_again_when_sending(
    world: World, receiver: Receiver, runtime: Runtime, clock: FakeClock
) -> None:
    """Registered while private addresses were allowed; a worker that does not allow
    them refuses to send (as it would after DNS moved a public name to 127.0.0.1)."""
    created = _register(world, receiver)
    _emit(world, world.site_a, "ada")
    strict = Worker(runtime, allow_private=False)
    try:
        strict.run_once()
    finally:
        strict.close()
    assert receiver.requests == []
    (delivery,) = webhooks.list_deliveries(world.runtime, created.view.id)
    (attempt,) = webhooks.list_attempts(world.runtime, created.view.id, delivery.id)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("refused: ")
    assert "SITESCIM_WEBHOOKS_ALLOW_PRIVATE" in attempt.error


def test_delivered_history_is_pruned_after_thirty_days_and_pending_is_kept(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    _emit(world, world.site_a, "old")
    _drain(worker, clock)
    receiver.answer = lambda _path: 500
    clock.advance(days=31)
    _emit(world, world.site_a, "stuck")
    worker.run_once()
    assert webhook_delivery.prune(world.runtime) == 1
    (left,) = webhooks.list_deliveries(world.runtime, created.view.id)
    assert left.status == "pending"
    assert len(webhooks.list_attempts(world.runtime, created.view.id, left.id)) == 1


def test_periodic_jobs_run_on_their_interval_beside_delivery(runtime: Runtime) -> None:
    ran: list[float] = []
    started = threading.Event()

    def job() -> None:
        ran.append(time.monotonic())
        started.set()

    worker = Worker(runtime, allow_private=True, jobs=[PeriodicJob("count", 0.2, job)])
    worker.start()
    try:
        assert started.wait(10)
        deadline = time.monotonic() + 10
        while len(ran) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(ran) >= 3


def test_a_pair_waiting_out_a_retry_is_not_due_so_an_idle_worker_only_reads(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    _register(world, receiver)
    receiver.answer = lambda _path: 500
    _emit(world, world.site_a, "one", "two", "three")
    worker.run_once()
    assert len(receiver.requests) == 1  # the later two wait behind the first
    assert not webhook_delivery.has_due(world.runtime)
    clock.advance(seconds=RETRY_SCHEDULE[0].total_seconds())
    assert webhook_delivery.has_due(world.runtime)


def test_a_removed_endpoint_gets_nothing_more(
    world: World, receiver: Receiver, worker: Worker, clock: FakeClock
) -> None:
    created = _register(world, receiver)
    _emit(world, world.site_a, "before")
    worker.run_once()
    _emit(world, world.site_a, "pending")
    webhook_delivery.fan_out(world.runtime)
    webhooks.remove_endpoint(world.runtime, created.view.id)
    _emit(world, world.site_a, "after")
    _drain(worker, clock)
    assert len(receiver.requests) == 1
    statuses = [d.status for d in webhooks.list_deliveries(world.runtime, created.view.id)]
    assert statuses == ["failed", "delivered"]
