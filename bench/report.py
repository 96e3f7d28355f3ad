"""What `scim_load.py` prints after a size's runs: the table, the ratios, the verdicts."""

from __future__ import annotations

from bench.harness import print_table
from bench.workloads import PEER, SITESCIM, SMALL_SITE_USERS, Row

TARGETS: dict[str, dict[str, float]] = {
    "sqlite": {
        "get": 0.40,
        "username": 0.35,
        "patch": 0.20,
        "post": 0.20,
        "page": 0.10,
        "bulk": 0.20,
    },
    "postgresql": {
        "get": 0.25,
        "username": 0.20,
        "patch": 0.10,
        "post": 0.10,
        "page": 0.05,
        "bulk": 0.10,
    },
}
"""Issue 9's ratios to the bare Starlette app, by database (Bulk: users/s over its POST req/s)."""


def rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def print_comparison(rows: list[Row], title: str) -> None:
    """The table: each server's req/s and latencies, and each one's ratio to the yardstick."""
    print(f"\n{title}\n")
    print(
        "| workload | bare Starlette req/s | sitescim req/s | p50 ms | p99 ms | ratio "
        f"| {PEER} req/s | p50 ms | p99 ms | its ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        bare = (row.bare["rps"] if row.bare else 0.0) or float("nan")
        cells = [row.label, rate(bare) + (" (POST)" if row.unit == "users/s" else "")]
        for result, note in ((row.ours, row.ours_note), (row.peer, row.peer_note)):
            if result is None:
                cells += [f"n/a ({note})" if note else "n/a", "", "", ""]
                continue
            cells += [
                rate(result["rps"]) + (f" ({note})" if note else ""),
                f"{result['p50']:.2f}",
                f"{result['p99']:.2f}",
                f"{result['rps'] / bare:.3f}",
            ]
        print("| " + " | ".join(cells) + " |")


def print_group_ratio(rows: dict[str, Row], small: int, big: int) -> None:
    at_small, at_big = rows.get("group-small"), rows.get("group-big")
    if at_small is None or at_big is None:
        return
    print(f"\ngroup PATCH latency, {big:,} members over {small:,} members:")
    for who, low, high in (
        (SITESCIM, at_small.ours, at_big.ours),
        (PEER, at_small.peer, at_big.peer),
    ):
        if low and high:
            print(
                f"  {who}: p50 {high['p50'] / low['p50']:.2f}x, p99 {high['p99'] / low['p99']:.2f}x "
                f"({low['p50']:.2f} -> {high['p50']:.2f} ms p50)"
            )


def print_target_verdicts(rows: dict[str, Row], kind: str) -> None:
    """Each measured workload's ratio against this database's target."""
    print(f"\n{kind}: ratios against issue 9's targets")
    for key, target in TARGETS[kind].items():
        row = rows.get(key)
        if row is None or row.ours is None or row.bare is None or not row.bare["rps"]:
            continue
        ratio = row.ours["rps"] / row.bare["rps"]
        verdict = "meets" if ratio >= target else "DOES NOT meet"
        unit = " (users/s over bare POST req/s)" if key == "bulk" else ""
        print(f"  {row.label}: {ratio:.3f}{unit}, {verdict} {target:.2f}")


def print_latency_verdict(
    latency: list[tuple[str, dict[str, float]]], raw_rps: float, kind: str, users: int
) -> list[str]:
    """The ``eq`` latency table, at 1,000 users against N; failures where N is over 1.5x."""
    failures: list[str] = []
    print_table(
        latency,
        bare_rps=raw_rps or float("nan"),
        title=f"### {kind}: eq filter latency, {SMALL_SITE_USERS:,} vs {users:,} users "
        "(ratio to the raw ASGI app)",
        ratio_digits=3,
    )
    for i in range(0, len(latency), 2):
        (_, at_small), (_, at_big) = latency[i], latency[i + 1]
        name = latency[i][0].split(" at ")[0]
        factor = at_big["p50"] / at_small["p50"]
        verdict = "within" if factor <= 1.5 else "NOT within"
        print(f"\n{name}: p50 at {users:,} / p50 at 1,000 = {factor:.2f} ({verdict} 1.5x)")
        if factor > 1.5:
            failures.append(f"{kind} {name}: {factor:.2f}x slower at {users:,} users")
    for name, result in latency:
        if result["errors"] or result["socket_errors"]:
            failures.append(f"{kind} {name}: {result['errors']:.0f} non-2xx/3xx")
    return failures
