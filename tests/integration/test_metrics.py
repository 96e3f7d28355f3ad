"""Prometheus metrics at /metrics (issue 10), scraped and parsed with prometheus_client's
own parser; each test compares values before and after known requests, since the
counters live for the whole test process.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.testclient import TestClient

from sitescim.web.app import create_app
from tests.factories import bearer, make_token
from tests.integration.killable import killable_server, service_env, site_token, user_payload

SCIM = "application/scim+json"
LOOPBACK = ("127.0.0.1", 40000)
USER_ROUTE = "/scim/v2/Users/{id}"


def scrape(
    client: TestClient, **headers: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before, after, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_scim_requests_are_counted_by_route_template_status_and_site(
    settings, database, clock, world
):
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    app = create_app(settings, clock=clock, database=database)
    with TestClient(app, client=LOOPBACK) as client:
        created = client.post(
            "/scim/v2/Users", json=user_payload("m@example.com", "M"), headers=bearer(token)
        )
        assert created.status_code == 201
        user_id = created.json()["id"]
        before = scrape(client)
        for _ in range(2):
            assert client.get(f"/scim/v2/Users/{user_id}", headers=bearer(token)).status_code == 200
        assert client.get("/scim/v2/Users/nobody", headers=bearer(token)).status_code == 404
        assert client.get(f"/scim/v2/Users/{user_id}", headers=bearer("sscim_x")).status_code == 401
        response = client.get("/metrics")
        after = scrape(client)

    requests = "sitescim_http_requests_total"
    ok = {"route": USER_ROUTE, "method": "GET", "site": "site-a"}
    assert moved(before, after, requests, **ok, status="200") == 2
    assert moved(before, after, requests, **ok, status="404") == 1
    assert moved(before, after, requests, **{**ok, "site": "-"}, status="401") == 1
    latency = "sitescim_http_request_duration_seconds_count"
    assert moved(before, after, latency, route=USER_ROUTE, method="GET") == 4
    assert moved(before, after, "sitescim_token_checks_total", result="ok") == 3
    assert moved(before, after, "sitescim_token_checks_total", result="malformed") == 1
    assert value(after, "sitescim_db_pool_connections", pool="writes", state="idle") >= 0
    assert any(name == "sitescim_db_pool_connections" for name, _ in after)
    assert user_id not in response.text
    assert token not in response.text


def test_bulk_operations_and_rate_limit_refusals_are_counted(settings, database, clock, world):
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    limited = settings.model_copy(update={"rate_limit_scim_per_token": "2/minute"})
    app = create_app(limited, clock=clock, database=database)
    bulk = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_payload(
                f"bulk{i}@example.com", f"Bulk {i}"
            )}
            for i in range(3)
        ],
    }  # fmt: skip
    with TestClient(app, client=LOOPBACK) as client:
        before = scrape(client)
        done = client.post("/scim/v2/Bulk", json=bulk, headers=bearer(token))
        assert done.status_code == 200, done.text
        assert client.get("/scim/v2/Users", headers=bearer(token)).status_code == 200
        assert client.get("/scim/v2/Users", headers=bearer(token)).status_code == 429
        after = scrape(client)

    assert moved(before, after, "sitescim_bulk_operations_total", method="POST", status="201") == 3
    assert moved(before, after, "sitescim_rate_limit_refusals_total", limit="scim-token") == 1
    refused = {"route": "/scim/v2/Users", "method": "GET", "status": "429", "site": "site-a"}
    assert moved(before, after, "sitescim_http_requests_total", **refused) == 1


def test_metrics_are_not_public(settings, database, clock):
    app = create_app(settings, clock=clock, database=database)
    with TestClient(app, client=("203.0.113.5", 40000)) as outsider:
        assert outsider.get("/metrics").status_code == 403
    with TestClient(app, client=LOOPBACK) as local:
        assert local.get("/metrics").status_code == 200


def test_a_metrics_token_lets_a_scraper_in_from_anywhere_and_only_with_it(
    settings, database, clock
):
    secret = "m" * 40
    app = create_app(
        settings.model_copy(update={"metrics_token": SecretStr(secret)}),
        clock=clock,
        database=database,
    )
    with TestClient(app, client=("203.0.113.5", 40000)) as scraper:
        assert scraper.get("/metrics").status_code == 401
        wrong = scraper.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40})
        assert wrong.status_code == 401
        assert secret not in wrong.text
        assert scrape(scraper, Authorization=f"Bearer {secret}")
    with TestClient(app, client=LOOPBACK) as local:
        assert local.get("/metrics").status_code == 401


@pytest.mark.slow
def test_two_workers_report_one_sum_in_multiprocess_mode(db_url, tmp_path):
    """`serve --workers 2`: both workers count into files in one directory (emptied at
    start), and whichever worker answers a scrape reports the sum of both."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left by an earlier run")
    env = {**service_env(db_url), "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    token = site_token(env, slug="metered")
    with killable_server(env, tmp_path, "--workers", "2") as server:
        assert not (directory / "counter_999999.db").exists()
        url = f"{server.base_url}/scim/v2/ServiceProviderConfig"
        sent = 0

        def one(_: int) -> int:
            # A new connection each time, so the kernel hands them to both workers.
            return httpx.get(url, headers=bearer(token), timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            while sent < 400 and len(_writers(directory)) < 2:
                assert list(pool.map(one, range(40))) == [200] * 40
                sent += 40
        assert len(_writers(directory) & server.workers()) == 2
        totals = set()
        for _ in range(6):
            response = httpx.get(f"{server.base_url}/metrics", timeout=30)
            assert response.status_code == 200
            samples = {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            }
            route = "/scim/v2/ServiceProviderConfig"
            labels = {"route": route, "method": "GET", "status": "200", "site": "metered"}
            totals.add(value(samples, "sitescim_http_requests_total", **labels))
            assert value(samples, "sitescim_token_checks_total", result="ok") == sent

    assert totals == {sent}


def _writers(directory: Path) -> set[int]:
    """Worker pids that have written counters."""
    return {
        int(path.stem.rsplit("_", 1)[1])
        for path in directory.glob("counter_*.db")
        if path.stem.rsplit("_", 1)[1].isdigit()
    }
