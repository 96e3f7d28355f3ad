"""One member added and one removed: a group of 10 against a group of 100,000 (issue 9, item 5).

For each database: migrate a fresh one in process, make a site, a Promaster and
its token through the services, insert ``--large`` users and two groups (10
members and ``--large`` members, membership rows inserted straight into the
table), then time PATCH ``add`` of one new member + ``remove`` of one member by
``members[value eq "..."]`` — the way Entra ID sends it — ``--rounds`` times
per group and report the median milliseconds per PATCH and the large/small ratio:

| key | how |
|---|---|
| `service` | ``services.groups.patch_group(..., with_members=False)``, its own transaction |
| `http-excluded` | ``PATCH /Groups/{id}?excludedAttributes=members`` through the ASGI app |
| `http-entra` | ``PATCH /Groups/{id}`` with no ``attributes`` (what Entra sends) |

The target is a ratio within 1.5 for every mode: the web layer answers a
PATCH without ``attributes``/``excludedAttributes`` with 204 and no member.

    .venv/bin/python bench/group_patch.py [--large 100000] [--rounds 30]
        [--only sqlite|postgresql] [--only-mode service|http-excluded|http-entra]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert
from starlette.testclient import TestClient

from bench.harness import DEFAULT_POSTGRES_URL, PEPPER, SESSION, database
from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.db.models import Group, Membership, User
from sitescim.services import groups as group_service
from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from sitescim.settings import Settings
from sitescim.web.app import create_app

PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SMALL = 10
NOW = datetime(2026, 3, 1, tzinfo=UTC)
MODES = ("service", "http-excluded", "http-entra")


def add_users(db: Database, site_id: str, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for start in range(0, count, 10_000):
        rows = [
            {
                "id": user_id,
                "site_id": site_id,
                "user_name": f"m{start + n}@bench.test",
                "user_name_key": f"m{start + n}@bench.test",
                "display_name": f"Member {start + n}",
                "active": True,
                "privilege": "user",
                "created_at": NOW,
                "updated_at": NOW,
                "version": 1,
            }
            for n, user_id in enumerate(ids[start : start + 10_000])
        ]
        with db.transaction(write=True) as session:
            session.execute(insert(User), rows)
    return ids


def add_group(db: Database, site_id: str, name: str, members: list[str]) -> str:
    group_id = str(uuid.uuid4())
    with db.transaction(write=True) as session:
        session.execute(
            insert(Group),
            [
                {
                    "id": group_id,
                    "site_id": site_id,
                    "display_name": name,
                    "display_name_key": name.casefold(),
                    "created_at": NOW,
                    "updated_at": NOW,
                    "version": 1,
                }
            ],
        )
    for start in range(0, len(members), 10_000):
        rows = [
            {"site_id": site_id, "group_id": group_id, "user_id": member}
            for member in members[start : start + 10_000]
        ]
        with db.transaction(write=True) as session:
            session.execute(insert(Membership), rows)
    return group_id


def operations(new: str, old: str) -> dict[str, Any]:
    return {
        "schemas": [PATCH_URN],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": new}]},
            {"op": "remove", "path": f'members[value eq "{old}"]'},
        ],
    }


def run(kind: str, url: str, large: int, rounds: int, modes: list[str]) -> dict[str, float]:
    settings = Settings(
        database_url=url,
        token_pepper=PEPPER,
        session_secret=SESSION,
        log_level="WARNING",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    engine = make_engine(url)
    migrations.upgrade(engine)
    db = Database(engine)
    runtime = Runtime.from_settings(settings, db)
    with db.transaction(write=True) as session:
        site = sites.create_site(session, runtime, "Bench", slug="bench")
        sites.create_user(
            session, runtime, site_slug="bench", email="pm@bench.test", privilege="promaster"
        )
    with db.transaction(write=True) as session:
        actor = sites.actor_by_email(session, site_slug="bench", email="pm@bench.test")
        issued = token_service.issue_token(session, runtime, actor, description="bench")
    token = AuthenticatedToken(
        token_id=issued.id, site_id=site.id, site_slug="bench", scope="scim", description="bench"
    )
    spare = 2 * rounds * len(modes) + 2
    users = add_users(db, site.id, large + spare)
    members = {SMALL: users[:SMALL], large: users[:large]}
    groups = {size: add_group(db, site.id, f"G{size}", ids) for size, ids in members.items()}
    db.refresh_statistics()
    if kind == "postgresql":  # what autovacuum would soon do after a bulk load
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    fresh = iter(users[large:])
    app = create_app(settings, database=db)
    figures: dict[str, float] = {}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {issued.value}"}
        for mode in modes:
            for size, group_id in groups.items():
                present = list(members[size][:SMALL])  # the oldest go first
                timings = []
                for _ in range(rounds):
                    new = next(fresh)
                    body = operations(new, present.pop(0))
                    present.append(new)
                    started = time.perf_counter()
                    if mode == "service":
                        with db.transaction(write=True) as session:
                            group_service.patch_group(
                                session,
                                runtime,
                                token,
                                group_id,
                                body,
                                base_url="http://bench/scim/v2",
                                with_members=False,
                            )
                    else:
                        query = "?excludedAttributes=members" if mode == "http-excluded" else ""
                        response = client.patch(
                            f"/scim/v2/Groups/{group_id}{query}", json=body, headers=headers
                        )
                        assert response.status_code in (200, 204), response.text
                    timings.append(time.perf_counter() - started)
                figures[f"{mode}:{size}"] = statistics.median(timings) * 1000
            small, big = figures[f"{mode}:{SMALL}"], figures[f"{mode}:{large}"]
            print(
                f"{kind:<10} {mode:<14} {SMALL:>3} members {small:7.2f} ms"
                f"   {large:>7} members {big:8.2f} ms   ratio {big / small:5.2f}",
                flush=True,
            )
    db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--only-mode", choices=MODES)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    modes = [args.only_mode] if args.only_mode else list(MODES)
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    for kind in kinds:
        with (
            tempfile.TemporaryDirectory() as scratch,
            database(kind, args.postgres, Path(scratch)) as url,
        ):
            run(kind, url, args.large, args.rounds, modes)


if __name__ == "__main__":
    main()
