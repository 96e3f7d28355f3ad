"""docs/examples/webhook_receiver.py, run for real, so the documented receiver cannot rot:
it receives what the worker sends, verifies it, handles a redelivery once and refuses
a forged request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sitescim.domain.events import EventType
from sitescim.services import events, webhooks
from sitescim.services.audit import Who
from sitescim.services.worker import Worker
from tests.integration.servers import free_ports
from tests.world import World

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "webhook_receiver.py"


def test_the_documented_receiver_verifies_and_prints_each_event_once(
    world: World, worker: Worker, tmp_path: Path
) -> None:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    created = webhooks.add_endpoint(world.runtime, url + "/hooks", allow_private=True)
    output = tmp_path / "receiver.out"
    with output.open("wb") as sink:
        receiver = subprocess.Popen(
            [sys.executable, str(EXAMPLE)],
            env={**os.environ, "WEBHOOK_SECRET": created.secret, "PORT": str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                forged = httpx.post(
                    url + "/hooks",
                    content=b'{"type":"user.deleted"}',
                    headers={
                        "webhook-id": "evt_1",
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": "v1,AAAA",
                    },
                )
                break
            except httpx.TransportError:
                assert receiver.poll() is None, output.read_text()
                assert time.monotonic() < deadline, "the example receiver did not start"
                time.sleep(0.1)
        assert forged.status_code == 400

        with world.runtime.db.transaction(write=True) as session:
            for site, name in ((world.site_a, "ada"), (world.site_b, "bea")):
                events.emit(
                    session,
                    events.NewEvent(
                        type=EventType.USER_CREATED,
                        site_id=site,
                        resource_id=name,
                        data={"id": name},
                        who=Who(kind="system"),
                        now=world.runtime.clock(),
                    ),
                )
        while worker.run_once():
            pass
        (first, *_) = webhooks.list_deliveries(world.runtime, created.view.id)
        webhooks.redeliver(world.runtime, created.view.id, first.id)
        while worker.run_once():
            pass
        statuses = {d.status for d in webhooks.list_deliveries(world.runtime, created.view.id)}
        assert statuses == {"delivered"}
    finally:
        receiver.terminate()
        receiver.wait(10)
    printed = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    assert sorted((p["site"], p["type"]) for p in printed) == [
        ("site-a", "user.created"),
        ("site-b", "user.created"),
    ]
