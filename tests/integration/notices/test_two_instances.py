"""Two instances on one database give each notice once and send each e-mail once.

Two Database/Runtime pairs on the same database (on PostgreSQL, really
concurrent transactions; on SQLite, two engines contending for the file's
write lock), each running the job in two threads released together.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sitescim.db.application_tables import TokenNotice
from sitescim.db.engine import Database, make_engine
from sitescim.services import notices
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from tests.factories import make_token
from tests.integration.notices.inbox import Inbox
from tests.integration.notices.test_notices import EXPIRY, count, token_events
from tests.world import FakeClock, World

THREADS_PER_INSTANCE = 2


@pytest.fixture
def other_instance(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    database = Database(make_engine(settings.database_url))
    yield Runtime.from_settings(settings, database, clock=clock)
    database.dispose()


def run_together(runtimes: list[Runtime], settings: Settings) -> list[notices.NoticeRun]:
    gate = threading.Barrier(len(runtimes) * THREADS_PER_INSTANCE)
    results: list[notices.NoticeRun] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(runtime: Runtime) -> None:
        try:
            gate.wait(timeout=30)
            result = notices.run_notices(runtime, settings)
        except BaseException as error:  # reported by the test thread below
            failures.append(error)
            return
        with lock:
            results.append(result)

    threads = [
        threading.Thread(target=run, args=(runtime,))
        for runtime in runtimes
        for _ in range(THREADS_PER_INSTANCE)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(results) == len(threads)
    return results


def test_two_instances_give_one_notice_and_one_email_per_promaster_per_threshold(
    world: World,
    clock: FakeClock,
    other_instance: Runtime,
    mail_settings: Settings,
    inbox: Inbox,
) -> None:
    runtime = world.runtime
    make_token(runtime, "site-a", world.promaster_a, "Okta")
    make_token(runtime, "site-a", world.promaster_a2, "Entra ID")
    make_token(runtime, "site-b", world.promaster_b, "OneLogin")
    # Two site-a tokens to Ada and Alan, one site-b token to Bob.
    per_threshold = {
        (world.promaster_a, "Okta"): 1,
        (world.promaster_a2, "Okta"): 1,
        (world.promaster_a, "Entra ID"): 1,
        (world.promaster_a2, "Entra ID"): 1,
        (world.promaster_b, "OneLogin"): 1,
    }
    moments = [
        EXPIRY - timedelta(days=30) + timedelta(minutes=1),
        EXPIRY - timedelta(days=7) + timedelta(minutes=1),
        EXPIRY - timedelta(days=1) + timedelta(minutes=1),
        EXPIRY + timedelta(minutes=1),
    ]
    for number, moment in enumerate(moments, start=1):
        clock.now = moment
        results = run_together([runtime, other_instance], mail_settings)
        assert sum(result.noticed for result in results) == 3
        assert sum(result.emails_sent for result in results) == 5
        received = inbox.snapshot()
        assert len(received) == 5 * number
        latest = received[-5:]
        sent_to = Counter(
            (recipient, token)
            for item in latest
            for recipient in item.recipients
            for token in ("Okta", "Entra ID", "OneLogin")
            if f"“{token}”" in item.subject
        )
        assert sent_to == per_threshold
        assert len(token_events(runtime)) == 3 * number
        assert count(runtime, TokenNotice) == 3 * number

    thresholds = Counter(
        event["changes"]["threshold"] if "changes" in event else event["type"]
        for event in token_events(runtime)
    )
    assert thresholds == {"30d": 3, "7d": 3, "1d": 3, "token.expired": 3}
