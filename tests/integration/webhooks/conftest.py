"""Fixtures of the webhook tests: a real receiver, and a worker driven by the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sitescim.services.runtime import Runtime
from sitescim.services.worker import Worker
from tests.integration.webhooks.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[Worker]:
    """A worker the test drives round by round (``run_once``), reaching 127.0.0.1."""
    made = Worker(runtime, allow_private=True, lease=timedelta(seconds=60))
    yield made
    made.close()
