"""A burst of sign-ins must not multiply argon2's memory (issue 10: 245 MiB grew to 2.1 GiB).

A real ``sitescim serve`` with the production hash cost (64 MiB a check) takes
40 concurrent sign-ins of 40 different accounts, so the brake lets every one
reach its password check; the server's peak resident memory (VmHWM) must stay
under 400 MiB because concurrent hashing is bounded process-wide.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.factories import make_site
from tests.integration.killable import killable_server, operator_runtime, service_env

pytestmark = pytest.mark.slow

BURST = 40
MEMORY_CEILING_KIB = 400 * 1024


def _memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_forty_concurrent_sign_ins_stay_under_400_mib(db_url, tmp_path):
    env = {
        **service_env(db_url),
        "SITESCIM_ARGON2_TIME_COST": "3",
        "SITESCIM_ARGON2_MEMORY_KIB": "65536",
    }
    with operator_runtime(env) as runtime:
        make_site(runtime, "Memory", slug="memory")
    with killable_server(env, tmp_path, "--workers", "1") as server:
        assert server.process is not None
        pid = server.process.pid
        before = _memory_kib(pid, "VmRSS")

        def attempt(index: int) -> int:
            body = {"site": "memory", "email": f"nobody{index}@m.test", "password": "x" * 12}
            return httpx.post(
                f"{server.base_url}/api/v1/session", json=body, timeout=120
            ).status_code

        with ThreadPoolExecutor(BURST) as pool:
            statuses = list(pool.map(attempt, range(BURST)))
        peak = _memory_kib(pid, "VmHWM")

    print(f"server RSS before {before // 1024} MiB, peak {peak // 1024} MiB")
    assert statuses == [401] * BURST
    assert peak < MEMORY_CEILING_KIB
