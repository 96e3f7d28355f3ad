"""``kill -9`` of a real ``sitescim worker`` or ``sitescim serve`` while it delivers:
after a restart nothing is lost, and the delivery it was sending when it died comes
again with the same ``webhook-id`` and body."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitescim.domain.events import EventType, parse_event_id
from sitescim.services import events, webhooks
from sitescim.services.audit import Who
from sitescim.settings import Settings
from tests.integration.killable import KillableServer, service_env
from tests.integration.servers import sitescim_executable
from tests.integration.webhooks.receiver import Receiver, event_ids_by_site
from tests.world import World

pytestmark = pytest.mark.slow

EVENTS_PER_SITE = 60
KILL_AT_REQUEST = 25
DEADLINE_SECONDS = 90.0


@contextlib.contextmanager
def _worker_process(
    env: dict[str, str], workdir: Path, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    output = workdir / f"{name}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(sitescim_executable()), "worker"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(20)


def _wait(condition: object, what: str, *logs: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    shown = "\n".join(path.read_text(errors="replace") for path in logs if path.exists())
    raise AssertionError(f"{what} did not happen within {DEADLINE_SECONDS}s\n{shown}")


@pytest.mark.parametrize("process", ["worker", "serve"])
def test_a_killed_sender_loses_nothing_and_resends_with_the_same_id(
    world: World, receiver: Receiver, settings: Settings, tmp_path: Path, process: str
) -> None:
    before = events.read_feed(world.runtime, events.FeedQuery(limit=events.MAX_PAGE)).events
    after = parse_event_id(before[-1]["id"]) if before else 0
    created = webhooks.add_endpoint(world.runtime, receiver.url + "/hooks", allow_private=True)
    receiver.secret = created.secret
    with world.runtime.db.transaction(write=True) as session:
        for n in range(EVENTS_PER_SITE):
            for site in (world.site_a, world.site_b):
                events.emit(
                    session,
                    events.NewEvent(
                        type=EventType.USER_CREATED,
                        site_id=site,
                        resource_id=f"u{n}",
                        data={"id": f"u{n}"},
                        who=Who(kind="system"),
                        # The real time: serve prunes events older than the retention.
                        now=datetime.now(UTC),
                    ),
                )

    # The receiver holds one request open until the sender has been killed.
    calls = {"n": 0}
    held: list[str] = []
    reached, release = threading.Event(), threading.Event()
    counting = threading.Lock()

    def answer(_path: str) -> int:
        with counting:
            calls["n"] += 1
            number = calls["n"]
        if number == KILL_AT_REQUEST:
            held.append(receiver.current_id())
            reached.set()
            release.wait(DEADLINE_SECONDS)
        return 204

    receiver.answer = answer
    env = service_env(settings.database_url)
    env.update({"SITESCIM_WEBHOOKS_ALLOW_PRIVATE": "true", "SITESCIM_WEBHOOKS_LEASE_SECONDS": "2"})

    if process == "worker":
        with _worker_process(env, tmp_path, "worker-1") as first:
            _wait(reached.is_set, "the held request", tmp_path / "worker-1.log")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(20)
        release.set()
        with _worker_process(env, tmp_path, "worker-2") as second:
            _wait(
                lambda: _all_delivered(world, created.view.id),
                "delivery",
                tmp_path / "worker-2.log",
            )
            os.killpg(second.pid, signal.SIGTERM)
            assert second.wait(20) == 0, "sitescim worker did not stop cleanly on SIGTERM"
    else:
        server = KillableServer(env | {"SITESCIM_WORKER": "true"}, tmp_path, ("--workers", "1"))
        try:
            server.start()
            _wait(reached.is_set, "the held request")
            server.kill()
            release.set()
            server.start()
            _wait(lambda: _all_delivered(world, created.view.id), "delivery")
        finally:
            server.stop()

    assert receiver.unverified() == []
    logs = " ".join(path.read_text(errors="replace") for path in tmp_path.glob("*.log"))
    assert created.secret.removeprefix("whsec_") not in logs
    feed = events.read_feed(
        world.runtime, events.FeedQuery(after=after, limit=events.MAX_PAGE)
    ).events
    expected: dict[str, list[str]] = {}
    for event in feed:
        expected.setdefault(event["site"]["slug"], []).append(event["id"])
    assert event_ids_by_site(receiver.delivered()) == expected
    (held_id,) = held
    copies = [r for r in receiver.delivered() if r.webhook_id == held_id]
    assert len(copies) >= 2, "the delivery cut off by the kill was not sent again"
    assert len({copy.body for copy in copies}) == 1


def _all_delivered(world: World, endpoint_id: str) -> bool:
    rows = webhooks.list_deliveries(world.runtime, endpoint_id, limit=500)
    return len(rows) == 2 * EVENTS_PER_SITE and all(row.status == "delivered" for row in rows)
