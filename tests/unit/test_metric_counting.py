"""The request metrics are counted through the children's values directly
(web.metrics._Counted): the samples must be those of ``inc`` and ``observe``."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from sitescim.web import metrics

DURATIONS = [0.0, 0.0004, 0.001, 0.0010001, 0.003, 0.07, 1.0, 29.9, 30.0, 31.0, 1e9]


def _samples(registry: CollectorRegistry, prefix: str, route: str) -> dict[tuple, float]:
    return {
        (sample.name.removeprefix(prefix), tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.labels.get("route") == route and not sample.name.endswith("_created")
    }


def test_requests_are_counted_as_inc_and_observe_count_them():
    route = "/test/counted-directly"
    reference = CollectorRegistry()
    requests = Counter(
        "ref_http_requests", "", ["route", "method", "status", "site"], registry=reference
    )
    latency = Histogram(
        "ref_http_request_duration_seconds",
        "",
        ["route", "method"],
        buckets=metrics.LATENCY._upper_bounds,
        registry=reference,
    )
    for seconds in DURATIONS:
        metrics.observe(route, "GET", 200, "site-a", seconds)
        requests.labels(route, "GET", "200", "site-a").inc()
        latency.labels(route, "GET").observe(seconds)
    ours = _samples(REGISTRY, "sitescim_", route)
    expected = _samples(reference, "ref_", route)
    assert ours == expected
    assert ours[
        (
            "http_requests_total",
            (("method", "GET"), ("route", route), ("site", "site-a"), ("status", "200")),
        )
    ] == len(DURATIONS)


def test_token_checks_are_counted_once_each():
    def count(result: str) -> float:
        return REGISTRY.get_sample_value("sitescim_token_checks_total", {"result": result}) or 0.0

    before_ok, before_expired = count("ok"), count("expired")
    metrics.count_token_check(None)
    metrics.count_token_check(None)
    metrics.count_token_check("expired")
    assert count("ok") - before_ok == 2
    assert count("expired") - before_expired == 1
