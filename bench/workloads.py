"""What `scim_load.py` measures: its workloads, the rows of its tables, what a size needs.

A `Workload` is one row of the table: the wrk script (bench/lua/) and its
arguments, and one request of the same kind to try first; the peer may run it
with arguments of its own (scim2-server refuses Entra's group remove form) or
not at all. `Sized` is what one database and size holds across workloads: the
seeded sites, the ids file the scripts read, the peer's seed files. The builders
here make the plain workloads from the seeded users, the cursor workload from a
walked cursor, and the group workloads after seeding the groups.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.apps import cursor_extra_installed
from bench.harness import SeededSite
from bench.seed import seed_group, seed_users, user_name
from sitescim.db.engine import make_engine

SMALL_SITE_USERS = 1_000
SMALL_GROUP = 10
BIG_GROUP = 100_000
GROUP_POOL = 1_000  # users added to and removed from the groups, seeded after the reads
PAGE = 100
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PATCH_BODY = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}
WORKLOADS = (
    "get",
    "username",
    "emailco",
    "page",
    "cursor",
    "deeppage",
    "patch",
    "post",
    "group",
    "bulk",
)
DEFAULT_WORKLOADS = "get,username,emailco,page,cursor,patch,post,group,bulk"
SITESCIM, STARLETTE, PEER = "sitescim", "starlette", "scim2-server"


@dataclass(frozen=True)
class Workload:
    """One row of the table: what wrk runs, and one request of the same kind to check first."""

    key: str
    label: str
    path: str
    script: str | None
    script_args: tuple[str, ...]
    probe: tuple[str, str, dict[str, Any] | None]  # method, path, JSON body
    peer_args: tuple[str, ...] | None = None  # the peer's script args, when they differ
    peer_seed: str = "users"  # which seed file the peer starts from
    peer_missing: str = ""  # why the peer cannot run it, if it cannot


@dataclass
class Row:
    """One workload's figures on the three servers (``None``: not measured)."""

    label: str
    bare: dict[str, float] | None = None
    ours: dict[str, float] | None = None
    peer: dict[str, float] | None = None
    peer_note: str = ""
    unit: str = "req/s"
    ours_note: str = ""


@dataclass
class Sized:
    """What one database and size needs across workloads."""

    kind: str
    users: int
    env: dict[str, str]
    big: SeededSite
    small: SeededSite
    ids: list[str]
    ids_file: Path
    scratch: Path
    run_tag: str
    groups: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (id, members)
    pool_file: Path | None = None
    peer_seeds: dict[str, Path] = field(default_factory=dict)


def plain_workloads(users: int, ids_file: Path, first_id: str, run_tag: str) -> list[Workload]:
    """The workloads that need nothing but the seeded users (cursor, group, bulk need more)."""
    deep = max(1, users - PAGE)
    eq = urllib.parse.quote(f'userName eq "{user_name(users // 2)}"')
    co = urllib.parse.quote(f'emails.value co "{users // 2}@"')
    post_probe = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"probe-{run_tag}@bench.test",
        "emails": [
            {"value": f"probe-{run_tag}@bench.example.com", "type": "work", "primary": True}
        ],
        "active": True,
    }
    first = f"/scim/v2/Users?startIndex=1&count={PAGE}"
    offset = f"/scim/v2/Users?startIndex={deep}&count={PAGE}"
    return [
        Workload(
            "get",
            "GET /Users/{id}",
            "/",
            "get_by_id.lua",
            (str(ids_file),),
            ("GET", f"/scim/v2/Users/{first_id}", None),
        ),
        Workload(
            "username",
            'filter userName eq "..."',
            "/",
            "filter_eq.lua",
            ("userName", str(users)),
            ("GET", f"/scim/v2/Users?filter={eq}", None),
        ),
        Workload(
            "emailco",
            'filter emails.value co "{n}@"',
            "/",
            "filter_email_co.lua",
            (str(users),),
            ("GET", f"/scim/v2/Users?filter={co}", None),
        ),
        Workload("page", f"page startIndex=1&count={PAGE}", first, None, (), ("GET", first, None)),
        Workload(
            "deeppage",
            f"deep page startIndex={deep}&count={PAGE}",
            offset,
            None,
            (),
            ("GET", offset, None),
        ),
        Workload(
            "patch",
            "PATCH /Users/{id} active",
            "/",
            "patch_active.lua",
            (str(ids_file),),
            ("PATCH", f"/scim/v2/Users/{first_id}", PATCH_BODY),
        ),
        Workload(
            "post",
            "POST /Users",
            "/",
            "post_user.lua",
            (run_tag,),
            ("POST", "/scim/v2/Users", post_probe),
        ),
    ]


def cursor_workload(cursor: str, page: int) -> Workload:
    path = f"/scim/v2/Users?cursor={urllib.parse.quote(cursor)}&count={PAGE}"
    return Workload(
        "cursor",
        f"cursor page {page:,} (count={PAGE})",
        path,
        None,
        (),
        ("GET", path, None),
        peer_missing="" if cursor_extra_installed() else "cursor extra not installed",
    )


def group_workload(
    key: str, group_id: str, members: int, pool_file: Path, first_pool: str
) -> Workload:
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": first_pool}]}],
    }
    return Workload(
        key,
        f"PATCH /Groups/{{id}} add+remove, {members:,} members",
        "/",
        "patch_group_members.lua",
        (group_id, str(pool_file), "entra"),
        ("PATCH", f"/scim/v2/Groups/{group_id}", add),
        # scim2-server refuses Entra's remove (a value on "members"): it gets RFC 7644's.
        peer_args=(group_id, str(pool_file), "rfc"),
        peer_seed="groups",
    )


def write_peer_seeds(sized: Sized) -> None:
    """The seed files the peer starts from: the users; plus the pool and groups; nothing."""
    token = sized.big.token
    base_users = [[str(sized.ids_file), 0]]
    specs: dict[str, dict[str, Any]] = {
        "users": {"token": token, "users": base_users, "groups": []},
        "empty": {"token": token, "users": [], "groups": []},
    }
    if sized.pool_file is not None:
        specs["groups"] = {
            "token": token,
            "users": [*base_users, [str(sized.pool_file), sized.users]],
            "groups": [
                [group_id, f"Bench group {members}", members]
                for group_id, members in sized.groups.values()
            ],
        }
    for name, spec in specs.items():
        path = sized.scratch / f"peer-{sized.kind}-{sized.users}-{name}.json"
        path.write_text(json.dumps(spec))
        sized.peer_seeds[name] = path


def seed_groups(sized: Sized, url: str) -> list[Workload]:
    """The pool of users to add, a group of 10 and one of up to 100,000; their workloads."""
    engine = make_engine(url)
    started = time.perf_counter()
    pool = seed_users(engine, sized.big.id, GROUP_POOL, start=sized.users)
    big = min(BIG_GROUP, sized.users)
    for key, members in (("group-small", SMALL_GROUP), ("group-big", big)):
        group_id = seed_group(engine, sized.big.id, f"Bench group {members}", sized.ids[:members])
        sized.groups[key] = (group_id, members)
    engine.dispose()
    sized.pool_file = sized.scratch / f"pool-{sized.kind}-{sized.users}.txt"
    sized.pool_file.write_text("\n".join(pool) + "\n")
    write_peer_seeds(sized)
    print(
        f"  seeded {GROUP_POOL:,} pool users and groups of {SMALL_GROUP} and {big:,} members "
        f"in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    return [
        group_workload(key, group_id, members, sized.pool_file, pool[0])
        for key, (group_id, members) in sized.groups.items()
    ]
