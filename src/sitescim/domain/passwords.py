"""Local passwords: argon2 hashes, a site policy, and uniform timing on failure."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sitescim.domain.errors import InvalidInputError

MIN_LENGTH = 12
MAX_LENGTH = 256


@lru_cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash("sitescim-dummy-password-for-uniform-timing")


def check_policy(password: str, *, min_length: int = MIN_LENGTH) -> None:
    if len(password) < min_length:
        raise InvalidInputError("password", f"must be at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError("password", f"must be at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    """A missing user costs the same as a wrong password (habit 9)."""
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
