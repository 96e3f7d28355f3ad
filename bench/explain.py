"""The plans of the page queries behind `GET /Users?filter=...`, and which indexes they use.

`scim_load.py` prints, at each size, `EXPLAIN` (SQLite: `EXPLAIN QUERY PLAN`) of
the `userName eq`, `externalId eq` and `emails.value co` page queries with a
verdict: the indexes each plan reads (on SQLite, by which columns) and the
tables it scans whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Engine, and_, select, text

from bench.seed import user_name
from bench.workloads import PAGE
from sitescim.db.models import User, UserValue


def filter_condition(site_id: str, scim_filter: str, dialect: str) -> Any:
    """The service's own WHERE clause for a filter, or what it should compile to.

    ``sitescim.scim.filtering.user_filter`` compiles filters for ``GET /Users``;
    should it move, the filters here fall back to the lookups the translation
    must emit (case-folded ``user_name_key``; ``external_id`` is caseExact; an
    ``emails.value co`` is a substring match on the folded ``value_key`` rows).
    """
    try:
        from sitescim.scim.filtering import user_filter
    except ImportError:
        attribute, op, quoted = scim_filter.split(" ", 2)
        value = json.loads(quoted)
        if op == "co":
            match = (
                UserValue.value_key.op("GLOB")(f"*{value.casefold()}*")
                if dialect == "sqlite"
                else UserValue.value_key.like(f"%{value.casefold()}%")
            )
            return and_(
                User.site_id == site_id,
                User.id.in_(
                    select(UserValue.user_id).where(
                        UserValue.site_id == site_id, UserValue.attribute == "emails", match
                    )
                ),
            )
        column = User.user_name_key if attribute == "userName" else User.external_id
        return and_(
            User.site_id == site_id,
            column == value.casefold() if attribute == "userName" else column == value,
        )
    return user_filter(site_id, scim_filter)


INDEX_USE = {
    # SQLite names the columns the index is searched by: a co filter shows (site_id=? AND attribute=?).
    "sqlite": re.compile(r"USING (?:COVERING )?INDEX (\w+ \([^)]*\))|USING (INTEGER PRIMARY KEY)"),
    "postgresql": re.compile(
        r"Index (?:Only )?Scan (?:Backward )?using (\w+)|Bitmap Index Scan on (\w+)"
    ),
}
FULL_SCAN = {
    "sqlite": re.compile(r"\bSCAN (\w+)(?! USING)"),
    "postgresql": re.compile(r"Seq Scan on (\w+)"),
}


def index_verdict(dialect: str, plan: list[str]) -> str:
    """Which indexes the plan reads (on SQLite, by which columns), and which tables it scans whole."""
    joined = "\n".join(plan)
    used = sorted(
        {name for match in INDEX_USE[dialect].finditer(joined) for name in match.groups() if name}
    )
    scanned = sorted({match.group(1) for match in FULL_SCAN[dialect].finditer(joined)})
    parts = [f"indexes used: {', '.join(used) if used else 'none'}"]
    if scanned:
        parts.append(f"full scans: {', '.join(scanned)}")
    return "; ".join(parts)


def explain(engine: Engine, site_id: str, users: int) -> None:
    """The plans of the page query ``GET /Users?filter=...`` runs, on the loaded tables.

    The statement mirrors ``db/listings.py``: the filter's condition, creation
    order, the first 100 (the count query has the same WHERE and its own plan).
    """
    middle = users // 2
    probes = {
        "userName eq": f'userName eq "{user_name(middle)}"',
        "externalId eq": f'externalId eq "ext-{middle}"',
        "emails.value co": f'emails.value co "{middle}@"',
    }
    dialect = engine.dialect.name
    prefix = "EXPLAIN QUERY PLAN" if dialect == "sqlite" else "EXPLAIN"
    with engine.connect() as connection:
        for name, scim_filter in probes.items():
            statement = (
                select(User)
                .where(filter_condition(site_id, scim_filter, dialect))
                .order_by(User.created_at, User.id)
                .limit(PAGE)
            )
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = [str(row[-1]) for row in connection.execute(text(f"{prefix} {compiled}")).all()]
            print(f"\nEXPLAIN {name} ({scim_filter}) at {users:,} users ({dialect}):")
            for line in plan:
                print("    " + line)
            print(f"  => {index_verdict(dialect, plan)}")
