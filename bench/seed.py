"""Bulk loader: N SCIM users for one site, straight into the tables, in seconds.

Seeding 100,000 users through the API would take longer than the benchmark, so
rows go in with SQLAlchemy Core executemany inserts, batches of 5,000 users with
their ``emails`` rows, a few batches per transaction. Rows are shaped like what
the SCIM service stores (case-folded ``*_key`` columns, one primary work email
row per user), so the API reads them as its own.

User ``i`` (0-based) is ``user{i}@bench.test`` with externalId ``ext-{i}`` and the
work email ``user{i}@bench.example.com`` (not ``.test``: scim2-models validates
emails with email-validator, which refuses special-use domains). The ids, in
order, go to a file, one a line, for the wrk Lua scripts. ``seed_users(...,
start=N)`` adds more users after those; ``seed_group`` adds a group with given
members, one ``group_members`` row each.

    .venv/bin/python bench/seed.py DATABASE_URL SITE_ID --users 100000 --ids ids.txt
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from sitescim.db.engine import make_engine
from sitescim.db.models import Group, Membership, User, UserValue
from sitescim.db.statistics import refresh_statistics
from sitescim.services.stored_documents import store_missing_documents

BATCH = 5_000
BATCHES_PER_TRANSACTION = 4
DOMAIN = "bench.test"
EMAIL_DOMAIN = "bench.example.com"


def user_name(i: int) -> str:
    return f"user{i}@{DOMAIN}"


def work_email(i: int) -> str:
    return f"user{i}@{EMAIL_DOMAIN}"


def user_rows(site_id: str, start: int, stop: int, first: datetime) -> list[dict[str, Any]]:
    """Users ``start..stop-1``, created a millisecond apart as if provisioned one by one."""
    rows = []
    for i in range(start, stop):
        created = first + timedelta(milliseconds=i)
        name = user_name(i)
        given, family = f"Given{i}", f"Family{i}"
        display = f"{given} {family}"
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "site_id": site_id,
                "user_name": name,
                "user_name_key": name.casefold(),
                "email": work_email(i),
                "display_name": display,
                "display_name_key": display.casefold(),
                "external_id": f"ext-{i}",
                "active": True,
                "privilege": "user",
                "password_hash": None,
                "name_formatted": display,
                "name_family": family,
                "name_given": given,
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
    return rows


def email_rows(site_id: str, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user["id"],
            "site_id": site_id,
            "attribute": "emails",
            "position": 0,
            "value": user["email"],
            "value_key": user["email"].casefold(),
            "type": "work",
            "primary": True,
            "display": None,
            "extra": {},
        }
        for user in users
    ]


def seed_users(engine: Engine, site_id: str, count: int, *, start: int = 0) -> list[str]:
    """Insert users ``start..start+count-1`` of ``site_id``; return their ids in index order.

    A later call with ``start`` past the earlier users adds more of them, created
    after the ones already there.
    """
    stop = start + count
    first = datetime.now(UTC) - timedelta(milliseconds=stop)
    ids: list[str] = []
    users_insert = insert(User.__table__)  # type: ignore[arg-type]
    values_insert = insert(UserValue.__table__)  # type: ignore[arg-type]
    step = BATCH * BATCHES_PER_TRANSACTION
    for chunk in range(start, stop, step):
        with engine.begin() as connection:
            for begin in range(chunk, min(chunk + step, stop), BATCH):
                users = user_rows(site_id, begin, min(begin + BATCH, stop), first)
                connection.execute(users_insert, users)
                connection.execute(values_insert, email_rows(site_id, users))
                ids.extend(user["id"] for user in users)
        if engine.dialect.name == "postgresql":
            # As the service refreshes them after a large Bulk (db.statistics): without
            # it, PostgreSQL kept checking each value's foreign key with the plan made
            # while ``users`` was empty, a scan of every user: 100,000 took 4 minutes.
            refresh_statistics(engine)
    # Users written through SCIM store their documents as they are written; these
    # get theirs as the service's upkeep would give them at start.
    store_missing_documents(engine)
    if engine.dialect.name == "postgresql":
        # What autovacuum would do shortly after a bulk load anyway (the vacuum: rows
        # written whole through SCIM would leave no dead versions behind). SQLite is
        # left without statistics, as a production file would be.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE users")
            connection.exec_driver_sql("ANALYZE user_values")
    return ids


def seed_group(engine: Engine, site_id: str, name: str, member_ids: list[str]) -> str:
    """Insert one group of ``site_id`` with these users as members; return its id.

    One ``group_members`` row per member, as the service stores them.
    """
    now = datetime.now(UTC)
    group_id = str(uuid.uuid4())
    memberships = insert(Membership.__table__)  # type: ignore[arg-type]
    with engine.begin() as connection:
        connection.execute(
            insert(Group.__table__),  # type: ignore[arg-type]
            {
                "id": group_id,
                "site_id": site_id,
                "display_name": name,
                "display_name_key": name.casefold(),
                "external_id": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            },
        )
        for begin in range(0, len(member_ids), BATCH):
            connection.execute(
                memberships,
                [
                    {"site_id": site_id, "group_id": group_id, "user_id": user_id}
                    for user_id in member_ids[begin : begin + BATCH]
                ],
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE groups")
            connection.exec_driver_sql("ANALYZE group_members")
    return group_id


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database_url")
    parser.add_argument("site_id")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--ids", type=Path, required=True)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    started = time.perf_counter()
    ids = seed_users(engine, args.site_id, args.users)
    args.ids.write_text("\n".join(ids) + "\n")
    engine.dispose()
    print(f"seeded {len(ids)} users in {time.perf_counter() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
