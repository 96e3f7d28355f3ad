"""Where a single SCIM write's time goes: the real app, in process, timed per request.

Seeds 1,000 users (SQLite file, or a PostgreSQL database next to ``--postgres``),
then drives ``--requests`` requests of one ``bench/instructions.py`` workload
(``patch``, ``deactivate``, ``post``) straight into the ASGI application and
prints wall and CPU µs a request (CPU of every thread of this process; the
database server's is not in it). ``--profile FILE`` runs them under yappi
(every thread, CPU clock) and writes pstats to FILE.

    .venv/bin/python bench/write_profile.py --workload post [--only sqlite] [--profile out]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import instructions
from bench.harness import DEFAULT_POSTGRES_URL, create_site, database, env_for, migrate
from bench.instructions import MEMBERS, USERS, drive

FEW = 20


def run(kind: str, args: argparse.Namespace, scratch: Path) -> None:
    from sqlalchemy import create_engine

    from bench.seed import seed_group, seed_users

    with database(kind, args.postgres, scratch) as url:
        env = env_for(url)
        migrate(env)
        site = create_site(env)
        engine = create_engine(url)
        ids = seed_users(engine, site.id, USERS)
        group_id = seed_group(engine, site.id, "Counted", ids[:MEMBERS])
        engine.dispose()
        os.environ.update({k: v for k, v in env.items() if k.startswith("SITESCIM_")})
        from sitescim.logs import configure_logging
        from sitescim.settings import get_settings
        from sitescim.web import app as web_app

        get_settings.cache_clear()
        web_app.POOL_SAMPLE_SECONDS = web_app.STATISTICS_INTERVAL_SECONDS = 10**9
        configure_logging("INFO", log_format="json")
        app = web_app.create_app(get_settings().model_copy(update={"worker": False}))
        original = instructions.request_for
        shift = [0]  # POST names must not repeat between runs

        def request_for(
            workload: str, user_ids: list[str], index: int, group_id: str = ""
        ) -> tuple[str, str, bytes, bytes]:
            return original(workload, user_ids, index + shift[0], group_id)

        instructions.request_for = request_for
        for workload in args.workload:
            shift[0] += 10**6
            asyncio.run(drive(app, site.token, workload, ids, 50, group_id))  # warm
            timed = []
            for count in (FEW, FEW + args.requests):  # the difference leaves start and stop out
                shift[0] += 10**5
                if args.profile and count > FEW:
                    import yappi  # type: ignore[import-not-found]

                    yappi.clear_stats()
                    yappi.set_clock_type("cpu")
                    yappi.start()
                began, cpu = time.perf_counter(), time.process_time()
                asyncio.run(drive(app, site.token, workload, ids, count, group_id))
                timed.append((time.perf_counter() - began, time.process_time() - cpu))
            if args.profile:
                yappi.stop()
                yappi.get_func_stats().save(f"{args.profile}.{kind}.{workload}", type="pstat")
            n = args.requests
            seconds, cpu = timed[1][0] - timed[0][0], timed[1][1] - timed[0][1]
            print(
                f"RESULT {kind} {workload}: {seconds / n * 1e6:,.0f} µs wall, "
                f"{cpu / n * 1e6:,.0f} µs CPU a request",
                file=sys.stderr,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument(
        "--workload", action="append", choices=("get", "eq", "page", "patch", "deactivate", "post")
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--profile", help="write yappi stats to PROFILE.<database>.<workload>")
    args = parser.parse_args()
    args.workload = args.workload or ["patch"]
    scratch = Path(tempfile.mkdtemp(prefix="sitescim-writes-"))
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        run(kind, args, scratch)


if __name__ == "__main__":
    main()
