"""Local passwords: argon2 hashes, a site policy, and uniform timing on failure."""

from __future__ import annotations

import os
import threading
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sitescim.domain.errors import InvalidInputError

MIN_LENGTH = 8
"""NIST SP 800-63B's minimum, and no composition rules: an identity provider syncing
its own users' passwords (Okta) must not be refused by a stricter default of ours.
A site may raise it (sites.password_min_length)."""
MAX_LENGTH = 256


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


# Process-wide: each argon2 computation holds its whole memory cost (64 MiB by
# default) while it runs, so 40 concurrent sign-ins grew a worker by 2 GiB. More
# at once than cores only queue inside argon2 anyway; here they queue without
# the memory.
HASHING_SLOTS = _usable_cores()
_hashing = threading.BoundedSemaphore(HASHING_SLOTS)


def check_policy(password: str, *, min_length: int = MIN_LENGTH) -> None:
    if len(password) < min_length:
        raise InvalidInputError("password", f"must be at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError("password", f"must be at most {MAX_LENGTH} characters")


class Passwords:
    """argon2id with configurable cost (production keeps the library's defaults)."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash("sitescim-dummy-password-for-uniform-timing")

    def hash(self, password: str) -> str:
        with _hashing:
            return self._hasher.hash(password)

    def verify(self, password: str, stored_hash: str | None) -> bool:
        """A missing user costs the same as a wrong password (habit 9)."""
        dummy = self._dummy_hash if stored_hash is None else ""
        try:
            with _hashing:
                matched = self._hasher.verify(stored_hash or dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and stored_hash is not None
