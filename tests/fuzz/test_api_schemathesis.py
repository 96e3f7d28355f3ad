"""schemathesis against /api/v1, signed in as a Promaster (and with an operator key on
the events and reconciliation paths), over a real uvicorn.

Cases come from the service's own OpenAPI, valid and invalid alike; every
response must be below 500, documented (status, media type and body schema)
and free of internals. The session cookie is kept across cases; a case that
signs out (or a sign-in brake) is followed by a fresh sign-in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sitescim.services import api_keys
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import TEST_PEPPER, TEST_SESSION_SECRET, make_token
from tests.fuzz.conftest import assert_no_leak, fuzz_settings
from tests.integration.servers import uvicorn_in_thread
from tests.world import FakeClock

HEAD_LIMIT: int = Settings.model_fields["http_max_header_bytes"].default
OPERATOR_PATHS = ("/api/v1/events", "/api/v1/sites", "/api/v1/webhooks")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(settings, database, clock, world) -> Iterator[str]:
    app = create_app(settings, clock=clock, database=database)
    with uvicorn_in_thread(app) as base_url:
        yield base_url


def _signed_in(http: requests.Session, base_url: str, world, clock: FakeClock) -> None:
    if http.get(f"{base_url}/api/v1/session").status_code == 200:
        return
    body = {"site": "site-a", "email": world.promaster_a, "password": world.password}
    response = http.post(f"{base_url}/api/v1/session", json=body)
    if response.status_code == 429:  # the fuzzer's wrong passwords braked sign-in
        clock.advance(minutes=16)
        response = http.post(f"{base_url}/api/v1/session", json=body)
    assert response.status_code == 200, response.text


def test_api_v1_answers_only_what_its_openapi_documents(served, world, clock):
    base_url = served
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    schema = schema.include(path_regex="^/api/v1/")
    token = make_token(world.runtime, "site-a", world.promaster_a2).value
    key = api_keys.create_key(world.runtime, description="fuzz", site_slugs=["site-a"]).key
    operator = {"Authorization": f"Bearer {key}"}
    secrets = [token, key, TEST_PEPPER, TEST_SESSION_SECRET, world.password]
    http = requests.Session()
    cases = st.one_of(
        schema.as_strategy(generation_mode=GenerationMode.POSITIVE),
        schema.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @fuzz_settings(default=400)
    @given(case=cases)
    def send(case: schemathesis.Case) -> None:
        _signed_in(http, base_url, world, clock)
        by_key = case.path.startswith(OPERATOR_PATHS)
        response = case.call(base_url=base_url, session=http, headers=operator if by_key else None)
        if len(response.request.url or "") > HEAD_LIMIT:
            # Negative cases repeat a list parameter (``site``) thousands of times: such a
            # request head never reaches the app (`sitescim serve` answers 431 to it,
            # tests/integration/test_http_limits.py); this thread's plain uvicorn says 400.
            return
        case.validate_response(response, checks=CHECKS)
        request = response.request
        sent = f"{request.url} {request.body!r}"
        created = case.method == "POST" and case.path == "/api/v1/tokens"
        assert_no_leak(
            response.text, sent, secrets, shows_new_token=created and response.status_code == 201
        )

    send()
