"""The README's example consumer (docs/examples/consume_events.py), run as a process
against a real server so it cannot rot; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from sitescim.db.engine import Database
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.integration.feed.calls import emit, operator
from tests.integration.servers import uvicorn_in_thread
from tests.world import FakeClock, World

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "consume_events.py"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _consume(base_url: str, key: str, state: Path) -> list[dict[str, Any]]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SITESCIM_")}
    env.update(SITESCIM_URL=base_url, SITESCIM_API_KEY=key)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--state", str(state), "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_the_example_reconciles_then_follows_the_feed_and_resumes(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    world: World,
    auth_a: dict[str, str],
    tmp_path: Path,
) -> None:
    emit(world, world.site_a, "before-the-consumer")
    issued_key = operator(world)[1]["Authorization"].removeprefix("Bearer ")
    state = tmp_path / "consumer.json"
    with uvicorn_in_thread(create_app(settings, clock=clock, database=database)) as base_url:
        scim = httpx.Client(base_url=f"{base_url}/scim/v2", headers=auth_a)
        user = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "kim@a.test"})
        member = user.raise_for_status().json()["id"]
        group_body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Staff",
            "members": [{"value": member}],
        }
        scim.post("/Groups", json=group_body).raise_for_status()

        first = _consume(base_url, issued_key, state)
        users = [line["item"]["userName"] for line in first if line["kind"] == "user"]
        assert sorted(users) == sorted(
            ["ada@a.test", "alan@a.test", "uma@a.test", "ann@a.test", "kim@a.test", "bob@b.test"]
        )
        (group,) = [line["item"] for line in first if line["kind"] == "group"]
        assert group["displayName"] == "Staff"
        assert [m["value"] for m in group["members"]] == [member]
        assert [line for line in first if line["kind"] == "event"] == []

        emit(world, world.site_b, "later-1", "later-2")
        second = _consume(base_url, issued_key, state)
        assert [(line["kind"], line["item"]["data"]["id"]) for line in second] == [
            ("event", "later-1"),
            ("event", "later-2"),
        ]
        assert _consume(base_url, issued_key, state) == []
        scim.close()
