"""FailureThrottle: at most one audit write per key and flush interval, no count lost."""

from __future__ import annotations

import itertools
import threading

from hypothesis import given
from hypothesis import strategies as st

from sitescim.services.throttle import MAX_KEYS, FailureThrottle


def test_first_failure_of_a_key_is_written_at_once():
    throttle = FailureThrottle(flush_interval=1.0)
    assert throttle.take("k", monotonic=100.0) == 1


def test_repeats_within_the_interval_are_held_back():
    throttle = FailureThrottle(flush_interval=1.0)
    throttle.take("k", monotonic=100.0)
    assert [throttle.take("k", monotonic=100.0 + t) for t in (0.0, 0.1, 0.5, 0.999)] == [0] * 4


def test_held_back_repeats_are_written_with_the_next_flush():
    throttle = FailureThrottle(flush_interval=1.0)
    throttle.take("k", monotonic=100.0)
    for t in (100.1, 100.2, 100.3):
        throttle.take("k", monotonic=t)
    assert throttle.take("k", monotonic=101.0) == 4


def test_flush_happens_exactly_at_the_interval():
    throttle = FailureThrottle(flush_interval=2.0)
    throttle.take("k", monotonic=10.0)
    assert throttle.take("k", monotonic=11.999) == 0
    assert throttle.take("k", monotonic=12.0) == 2


def test_interval_restarts_at_each_flush():
    throttle = FailureThrottle(flush_interval=1.0)
    assert throttle.take("k", monotonic=0.0) == 1
    assert throttle.take("k", monotonic=1.5) == 1
    assert throttle.take("k", monotonic=2.0) == 0
    assert throttle.take("k", monotonic=2.5) == 2


def test_a_quiet_key_is_written_at_once_again():
    throttle = FailureThrottle(flush_interval=1.0)
    throttle.take("k", monotonic=0.0)
    assert throttle.take("k", monotonic=3600.0) == 1


def test_keys_are_throttled_independently():
    throttle = FailureThrottle(flush_interval=1.0)
    assert throttle.take("site-a|1.2.3.4|unknown", monotonic=0.0) == 1
    assert throttle.take("site-b|1.2.3.4|unknown", monotonic=0.1) == 1
    assert throttle.take("site-a|1.2.3.4|unknown", monotonic=0.2) == 0
    assert throttle.take("site-a|1.2.3.4|malformed", monotonic=0.3) == 1


def test_zero_interval_writes_every_failure():
    throttle = FailureThrottle(flush_interval=0.0)
    assert [throttle.take("k", monotonic=5.0) for _ in range(5)] == [1] * 5


def test_interval_defaults_to_one_second():
    throttle = FailureThrottle()
    throttle.take("k", monotonic=0.0)
    assert throttle.take("k", monotonic=0.99) == 0
    assert throttle.take("k", monotonic=1.0) == 2


def test_keys_beyond_the_bound_evict_the_least_recently_seen():
    throttle = FailureThrottle(flush_interval=1.0)
    throttle.take("oldest", monotonic=0.0)
    for n in range(MAX_KEYS):
        throttle.take(f"flood-{n}", monotonic=0.0)
    # "oldest" was forgotten to bound memory, so it counts as a first failure again.
    assert throttle.take("oldest", monotonic=0.5) == 1


def test_recently_seen_key_survives_eviction():
    throttle = FailureThrottle(flush_interval=1.0)
    throttle.take("busy", monotonic=0.0)
    for n in range(MAX_KEYS - 1):
        throttle.take(f"flood-{n}", monotonic=0.0)
    assert throttle.take("busy", monotonic=0.1) == 0  # touched: now the most recent
    throttle.take("one-more", monotonic=0.1)  # evicts flood-0, not busy
    assert throttle.take("busy", monotonic=0.2) == 0
    assert throttle.take("busy", monotonic=1.0) == 3
    assert throttle.take("flood-0", monotonic=0.3) == 1


@given(
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=60),
    interval=st.floats(min_value=0.01, max_value=2, allow_nan=False),
)
def test_no_failure_is_lost_or_counted_twice(gaps, interval):
    """Each write carries exactly the failures held back since the previous one."""
    throttle = FailureThrottle(flush_interval=interval)
    now = 1000.0
    held = 0
    for gap in gaps:
        now += gap
        held += 1
        count = throttle.take("k", monotonic=now)
        assert count in (0, held)
        if count:
            held = 0
    # One more failure after more than an interval flushes everything held back.
    assert throttle.take("k", monotonic=now + interval + 1) == held + 1


@given(
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=60),
    interval=st.floats(min_value=0.01, max_value=2, allow_nan=False),
)
def test_at_most_one_write_per_interval(gaps, interval):
    throttle = FailureThrottle(flush_interval=interval)
    now = 0.0
    writes: list[float] = []
    for gap in gaps:
        now += gap
        if throttle.take("k", monotonic=now):
            writes.append(now)
    assert all(later - earlier >= interval for earlier, later in itertools.pairwise(writes))


def test_concurrent_takes_lose_no_count():
    throttle = FailureThrottle(flush_interval=1.0)
    assert throttle.take("k", monotonic=0.0) == 1
    threads_n, per_thread = 8, 2000
    written = [0] * threads_n
    start = threading.Barrier(threads_n)

    def hammer(index: int) -> None:
        start.wait()
        for _ in range(per_thread):
            written[index] += throttle.take("k", monotonic=0.5)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(written) == 0
    assert throttle.take("k", monotonic=1.0) == threads_n * per_thread + 1
