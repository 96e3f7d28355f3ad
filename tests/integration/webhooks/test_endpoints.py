"""Registering endpoints: bad input refused with nothing written, secrets shown once and
sealed at rest, SSRF targets refused, and the same through the API and the CLI."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient
from typer.testing import CliRunner

from sitescim.cli import app as cli_app
from sitescim.domain.errors import InvalidInputError, NotFoundError
from sitescim.domain.secret_box import SecretBox
from sitescim.services import api_keys, webhooks
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from tests.world import World

PUBLIC = "https://93.184.215.14/hooks"  # a public address: no DNS needed


def _rows(runtime: Runtime) -> list[Any]:
    with runtime.db.transaction(write=False) as session:
        return list(session.execute(text("SELECT * FROM webhook_endpoints")).all())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://10.0.0.1/hooks",
        "http://192.168.1.10/hooks",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/hooks",
        "http://224.0.0.1/hooks",
        "http://localhost:8080/hooks",
        "file:///etc/passwd",
        "ftp://example.com/hooks",
        "gopher://example.com/",
        "http://user:s3cr3t-pw@93.184.215.14/hooks",
        "http:///no-host",
        "not a url",
        "",
    ],
)
def test_unsafe_or_malformed_urls_are_refused_and_nothing_is_written(
    world: World, url: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        webhooks.add_endpoint(world.runtime, url, allow_private=False)
    assert refused.value.field == "url"
    assert "s3cr3t-pw" not in str(refused.value)
    assert _rows(world.runtime) == []


def test_the_setting_allows_loopback_for_tests_and_private_networks(world: World) -> None:
    created = webhooks.add_endpoint(world.runtime, "http://localhost:9/hooks", allow_private=True)
    assert created.view.status == "active"


def test_unknown_types_and_sites_are_refused_and_nothing_is_written(world: World) -> None:
    with pytest.raises(InvalidInputError, match=r"user\.exploded"):
        webhooks.add_endpoint(
            world.runtime, PUBLIC, types=["user.created,user.exploded"], allow_private=False
        )
    with pytest.raises(NotFoundError, match="nowhere"):
        webhooks.add_endpoint(world.runtime, PUBLIC, site_slugs=["nowhere"], allow_private=False)
    assert _rows(world.runtime) == []


def test_the_secret_is_shown_once_and_sealed_at_rest(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = webhooks.add_endpoint(
        world.runtime, PUBLIC, site_slugs=["site-a"], types=["user.created"], allow_private=False
    )
    assert created.secret.startswith("whsec_")
    assert created.view.sites == ["site-a"]
    assert created.view.types == ["user.created"]
    (row,) = _rows(world.runtime)
    stored = row._mapping["secret_ciphertext"]
    body = created.secret.removeprefix("whsec_")
    assert body not in stored
    assert created.secret not in repr(webhooks.list_endpoints(world.runtime))
    assert body not in caplog.text
    # It opens with the service's pepper, bound to its own row only.
    box = webhooks.secret_box(world.runtime)
    assert box.open(stored, bound_to=created.view.id) == created.secret
    with pytest.raises(Exception, match="does not open"):
        box.open(stored, bound_to="another-endpoint")
    with pytest.raises(Exception, match="does not open"):
        SecretBox(b"another pepper", label=webhooks.SECRET_LABEL).open(
            stored, bound_to=created.view.id
        )


def test_removed_endpoints_leave_the_list(world: World) -> None:
    created = webhooks.add_endpoint(world.runtime, PUBLIC, allow_private=False)
    assert webhooks.remove_endpoint(world.runtime, created.view.id).status == "removed"
    assert webhooks.list_endpoints(world.runtime) == []
    with pytest.raises(NotFoundError):
        webhooks.remove_endpoint(world.runtime, "no-such-id")


def _key(world: World, *sites: str) -> dict[str, str]:
    issued = api_keys.create_key(world.runtime, description="app", site_slugs=list(sites))
    return {"authorization": f"Bearer {issued.key}"}


def test_the_api_needs_an_operator_key(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.post("/api/v1/webhooks", json={"url": PUBLIC}).status_code == 401


def test_the_api_adds_lists_and_removes_with_the_secret_shown_once(
    client: TestClient, world: World
) -> None:
    headers = _key(world)
    added = client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC, "sites": ["site-b"], "types": ["group.deleted"]},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    assert added.headers["cache-control"] == "no-store"
    created = added.json()
    assert created["secret"].startswith("whsec_")
    assert (created["sites"], created["types"], created["status"]) == (
        ["site-b"],
        ["group.deleted"],
        "active",
    )
    listed = client.get("/api/v1/webhooks", headers=headers)
    assert [w["id"] for w in listed.json()["webhooks"]] == [created["id"]]
    assert created["secret"] not in listed.text
    assert client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=headers).json() == {
        "deliveries": []
    }
    removed = client.delete(f"/api/v1/webhooks/{created['id']}", headers=headers)
    assert removed.json()["status"] == "removed"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "http://127.0.0.1/hooks"}, 400),
        ({"url": "ftp://example.com/"}, 400),
        ({"url": PUBLIC, "types": ["user.nope"]}, 400),
        ({"url": PUBLIC, "sites": ["nowhere"]}, 404),
        ({"url": PUBLIC, "extra": 1}, 400),
    ],
)
def test_the_api_refuses_bad_input_and_writes_nothing(
    client: TestClient, world: World, body: dict[str, Any], status: int
) -> None:
    response = client.post("/api/v1/webhooks", json=body, headers=_key(world))
    assert response.status_code == status, response.text
    assert _rows(world.runtime) == []


def test_a_site_limited_key_manages_only_endpoints_within_its_sites(
    client: TestClient, world: World
) -> None:
    everything = _key(world)
    only_a = _key(world, "site-a")
    wide = client.post("/api/v1/webhooks", json={"url": PUBLIC}, headers=everything).json()
    own = client.post("/api/v1/webhooks", json={"url": PUBLIC}, headers=only_a).json()
    assert own["sites"] == ["site-a"]  # limited to the key's sites when none are named
    refused = client.post(
        "/api/v1/webhooks", json={"url": PUBLIC, "sites": ["site-b"]}, headers=only_a
    )
    assert refused.status_code == 404
    assert [w["id"] for w in client.get("/api/v1/webhooks", headers=only_a).json()["webhooks"]] == [
        own["id"]
    ]
    assert client.delete(f"/api/v1/webhooks/{wide['id']}", headers=only_a).status_code == 404
    assert (
        client.get(f"/api/v1/webhooks/{wide['id']}/deliveries", headers=only_a).status_code == 404
    )
    assert len(client.get("/api/v1/webhooks", headers=everything).json()["webhooks"]) == 2


def _cli(settings: Settings) -> Any:
    runner = CliRunner()
    env = {
        "SITESCIM_DATABASE_URL": settings.database_url,
        "SITESCIM_TOKEN_PEPPER": settings.pepper_bytes().decode(),
        "SITESCIM_SESSION_SECRET": settings.session_secret_value(),
        "SITESCIM_WEBHOOKS_ALLOW_PRIVATE": "false",
    }

    def invoke(*args: str) -> Any:
        return runner.invoke(cli_app, list(args), env=env)

    return invoke


def test_the_cli_adds_lists_and_removes(settings: Settings, world: World) -> None:
    cli = _cli(settings)
    added = cli("webhook", "add", PUBLIC, "--site", "site-a", "--types", "user.created", "--json")
    assert added.exit_code == 0, added.output
    created = json.loads(added.stdout)
    assert {"id", "secret"} <= created.keys()
    listed = cli("webhook", "list", "--json")
    assert listed.exit_code == 0
    (shown,) = json.loads(listed.stdout)["webhooks"]
    assert {"id", "url", "sites", "types", "status"} <= shown.keys()
    assert (shown["sites"], shown["types"]) == (["site-a"], ["user.created"])
    assert created["secret"] not in listed.stdout
    removed = cli("webhook", "remove", created["id"], "--json")
    assert json.loads(removed.stdout) == {"id": created["id"], "status": "removed"}
    assert json.loads(cli("webhook", "deliveries", created["id"], "--json").stdout) == {
        "deliveries": []
    }


def test_the_cli_refuses_a_private_address_with_one_line(settings: Settings, world: World) -> None:
    refused = _cli(settings)("webhook", "add", "http://10.1.2.3/hooks", "--json")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: url:")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert _rows(world.runtime) == []
