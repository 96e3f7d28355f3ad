"""GET /api/v1/events with an operator key (spec section 5), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from sitescim.db.application_tables import Event
from sitescim.db.models import AuditEvent
from sitescim.domain.events import EventType
from sitescim.services import api_keys
from tests.integration.feed.calls import emit, names, operator
from tests.world import World


def _count(world: World, model: type) -> int:
    with world.runtime.db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_pages_come_in_order_and_resume_from_next(client: TestClient, world: World) -> None:
    emit(world, world.site_a, "a1", "a2")
    emit(world, world.site_b, "b1")
    emit(world, world.site_a, "a3", "a4")
    _, headers = operator(world)

    first = client.get("/api/v1/events", params={"limit": 2}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    assert names(first.json()) == ["a1", "a2"]
    assert first.json()["next"] == first.json()["events"][-1]["id"]
    second = client.get(
        "/api/v1/events", params={"after": first.json()["next"], "limit": 2}, headers=headers
    ).json()
    assert names(second) == ["b1", "a3"]
    assert second["events"][0]["site"] == {"id": world.site_b, "slug": "site-b"}
    third = client.get("/api/v1/events", params={"after": second["next"]}, headers=headers).json()
    assert names(third) == ["a4"]
    empty = client.get("/api/v1/events", params={"after": third["next"]}, headers=headers).json()
    assert empty == {"events": [], "next": third["next"]}

    emit(world, world.site_b, "b2")
    resumed = client.get("/api/v1/events", params={"after": empty["next"]}, headers=headers).json()
    assert names(resumed) == ["b2"]
    event = resumed["events"][0]
    assert set(event) == {"id", "type", "site", "occurred_at", "actor", "data"}
    assert event["actor"] == {"type": "system", "id": None, "label": None}
    assert event["occurred_at"].endswith("Z")


def test_a_cursor_ahead_of_the_newest_event_is_409(client: TestClient, world: World) -> None:
    """A cursor this feed never gave (another database, a restored backup) is not waited on
    in silence: the consumer is told to reconcile. At the newest event it is an empty page."""
    emit(world, world.site_a, "a1")
    _, headers = operator(world)
    newest = client.get("/api/v1/events", headers=headers).json()["next"]
    ahead = "evt_" + str(int(newest.removeprefix("evt_")) + 1).zfill(16)

    refused = client.get("/api/v1/events", params={"after": ahead}, headers=headers)
    assert refused.status_code == 409, refused.text
    assert "ahead of the newest event" in refused.json()["detail"]
    at_newest = client.get("/api/v1/events", params={"after": newest}, headers=headers)
    assert at_newest.json() == {"events": [], "next": newest}
    emit(world, world.site_a, "a2")
    assert (
        names(client.get("/api/v1/events", params={"after": ahead}, headers=headers).json()) == []
    )


def test_site_and_type_filters_narrow_and_next_moves_past_the_rest(
    client: TestClient, world: World
) -> None:
    emit(world, world.site_a, "a1")
    emit(world, world.site_b, "b1")
    emit(world, world.site_a, "a-created", type_=EventType.USER_CREATED)
    emit(world, world.site_b, "b-created", type_=EventType.USER_CREATED)
    _, headers = operator(world)

    def read(**params: Any) -> dict[str, Any]:
        response = client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert names(read(site="site-b")) == ["b1", "b-created"]
    assert names(read(site=["site-a", "site-b"])) == ["a1", "b1", "a-created", "b-created"]
    assert names(read(site="site-b,site-a")) == ["a1", "b1", "a-created", "b-created"]
    created = read(types="user.created,group.deleted")
    assert names(created) == ["a-created", "b-created"]
    only = read(types="user.created", site="site-a")
    assert names(only) == ["a-created"]
    everything = read()
    assert read(site="site-a", after=everything["events"][2]["id"]) == {
        "events": [],
        "next": everything["events"][2]["id"],
    }


def test_a_key_limited_to_a_site_sees_only_it_and_404_for_another(
    client: TestClient, world: World
) -> None:
    emit(world, world.site_a, "a1")
    emit(world, world.site_b, "b1")
    _, headers = operator(world, "site-b")

    page = client.get("/api/v1/events", headers=headers).json()
    assert names(page) == ["b1"]
    assert names(client.get("/api/v1/events?site=site-b", headers=headers).json()) == ["b1"]
    for asked in ("site-a", "site-b,site-a", "no-such-site"):
        refused = client.get("/api/v1/events", params={"site": asked}, headers=headers)
        assert refused.status_code == 404, asked
        assert refused.json() == {"detail": "No such site."}


def test_a_revoked_key_is_refused_on_its_next_request(client: TestClient, world: World) -> None:
    emit(world, world.site_a, "a1")
    key_id, headers = operator(world)
    assert client.get("/api/v1/events", headers=headers).status_code == 200
    api_keys.revoke_key(world.runtime, key_id)
    refused = client.get("/api/v1/events", headers=headers)
    assert refused.status_code == 401
    assert "events" not in refused.json()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sscop_not-a-key"},
        {"Authorization": "Basic c3Njb3BfOmFiYw=="},
    ],
)
def test_without_a_valid_key_nothing_is_shown(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    emit(world, world.site_a, "a1")
    response = client.get("/api/v1/events", headers=headers)
    assert response.status_code == 401
    assert "a1" not in response.text


def test_a_site_token_is_no_operator_key(
    client: TestClient, world: World, auth_a: dict[str, str]
) -> None:
    assert client.get("/api/v1/events", headers=auth_a).status_code == 401


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"after": "42"}, "cursor", "evt_"),
        ({"after": "evt_abc"}, "cursor", "evt_"),
        ({"after": "x" * 65}, "query.after", ""),
        ({"types": "user.created,user.exploded"}, "types", "'user.exploded'"),
        ({"limit": 0}, "query.limit", ""),
        ({"limit": 1001}, "query.limit", ""),
        ({"limit": "ten"}, "query.limit", ""),
    ],
)
def test_bad_input_is_400_naming_it_and_writes_nothing(
    client: TestClient, world: World, params: dict[str, Any], field: str, says: str
) -> None:
    emit(world, world.site_a, "a1")
    _, headers = operator(world)
    before = (_count(world, Event), _count(world, AuditEvent))

    response = client.get("/api/v1/events", params=params, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert says in response.json()["detail"]
    assert (_count(world, Event), _count(world, AuditEvent)) == before


def test_the_key_value_appears_in_no_response_log_or_audit_row(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emit(world, world.site_a, "a1")
    key_id, headers = operator(world)
    value = headers["Authorization"].removeprefix("Bearer ")
    answers = [
        client.get("/api/v1/events", headers=headers),
        client.get("/api/v1/events?after=nonsense", headers=headers),
        client.get("/api/v1/sites", headers=headers),
    ]
    api_keys.revoke_key(world.runtime, key_id)
    answers.append(client.get("/api/v1/events", headers=headers))
    assert [answer.status_code for answer in answers] == [200, 400, 200, 401]
    for answer in answers:
        assert value not in answer.text
        assert value not in str(answer.headers)
    assert value not in caplog.text
    with world.runtime.db.transaction(write=False) as session:
        rows = session.execute(text("SELECT * FROM audit_events")).all()
        events_rows = session.execute(text("SELECT * FROM events")).all()
        keys = session.execute(text("SELECT * FROM api_keys")).all()
    assert rows  # the revoked key's refusal was audited
    for row in [*rows, *events_rows, *keys]:
        assert value not in str(tuple(row))
