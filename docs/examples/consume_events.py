"""An application following sitescim's changes: reconcile once, then follow the feed.

    SITESCIM_URL=https://scim.example.com SITESCIM_API_KEY=sscop_... \
        python consume_events.py [--state state.json] [--once]

On its first run (no state file) it lists every site's users and groups
(reconciliation), keeping the feed position the first page gave; then it reads
``/api/v1/events`` from there, saving its cursor after each page it has handled.
A restart resumes after the last page saved: an event may come twice (after a
crash between handling and saving), never not at all, so ``handle`` applies
each one idempotently. ``--once`` stops when the feed has nothing new (tests,
cron); without it the consumer polls every few seconds.

Here the "application" prints one JSON line per user, group and event; yours
would upsert into its own tables instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

POLL_SECONDS = 5.0
PAGE = 500


def handle(kind: str, item: dict[str, Any]) -> None:
    """Apply one user, group or event. Make it idempotent: upsert by id."""
    print(json.dumps({"kind": kind, "item": item}), flush=True)


def save(state_file: Path, state: dict[str, Any]) -> None:
    """Write the state whole or not at all (a rename is atomic)."""
    partial = state_file.with_suffix(".tmp")
    partial.write_text(json.dumps(state))
    partial.replace(state_file)


def pages(api: httpx.Client, path: str) -> Iterator[dict[str, Any]]:
    """Every page of a reconciliation list, following ``next``."""
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        page = api.get(path, params=params).raise_for_status().json()
        yield page
        cursor = page["next"]
        if cursor is None:
            return


def reconcile(api: httpx.Client) -> str:
    """List every site's users and groups; return the feed position to follow from."""
    position = None
    for site in api.get("/api/v1/sites").raise_for_status().json()["sites"]:
        slug = site["slug"]
        for page in pages(api, f"/api/v1/sites/{slug}/users"):
            position = position or page["feed_position"]  # the first page's: the earliest
            for user in page["users"]:
                handle("user", user)
        for page in pages(api, f"/api/v1/sites/{slug}/groups"):
            for group in page["groups"]:
                path = f"/api/v1/sites/{slug}/groups/{group['id']}/members"
                group["members"] = [m for p in pages(api, path) for m in p["members"]]
                handle("group", group)
    if position is None:  # no site at all: follow the whole feed
        position = "evt_0000000000000000"
    return position


def follow(api: httpx.Client, state_file: Path, state: dict[str, Any], *, once: bool) -> None:
    while True:
        response = api.get("/api/v1/events", params={"after": state["cursor"], "limit": PAGE})
        page = response.raise_for_status().json()
        for event in page["events"]:
            handle("event", event)
        state["cursor"] = page["next"]
        save(state_file, state)
        if not page["events"]:
            if once:
                return
            time.sleep(POLL_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=Path("sitescim-consumer.json"))
    parser.add_argument("--once", action="store_true", help="stop when the feed is read")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {os.environ['SITESCIM_API_KEY']}"}
    with httpx.Client(base_url=os.environ["SITESCIM_URL"], headers=headers, timeout=30) as api:
        if args.state.exists():
            state = json.loads(args.state.read_text())
        else:
            state = {"cursor": reconcile(api)}
            save(args.state, state)
        follow(api, args.state, state, once=args.once)


if __name__ == "__main__":
    try:
        main()
    except httpx.HTTPStatusError as error:
        sys.exit(f"sitescim answered {error.response.status_code}: {error.response.text}")
