"""What every use case needs besides its session: the database, a clock, the pepper."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sitescim.db.engine import Database
from sitescim.domain.clock import Clock, system_clock
from sitescim.domain.passwords import Passwords
from sitescim.services.throttle import FailureThrottle
from sitescim.settings import Settings


@dataclass(frozen=True)
class Runtime:
    db: Database
    pepper: bytes
    clock: Clock = system_clock
    last_used_resolution: timedelta = timedelta(seconds=60)
    audit_window: timedelta = timedelta(seconds=60)
    throttle: FailureThrottle = field(default_factory=FailureThrottle)
    passwords: Passwords = field(default_factory=Passwords)
    scim_base_url: str = "/scim/v2"
    """meta.location's base in what is written outside a request (events of the CLI)."""

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database, *, clock: Clock = system_clock
    ) -> Runtime:
        return cls(
            db=db,
            pepper=settings.pepper_bytes(),
            clock=clock,
            last_used_resolution=timedelta(seconds=settings.last_used_resolution_seconds),
            audit_window=timedelta(seconds=settings.auth_failure_audit_window_seconds),
            passwords=Passwords(
                time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
            ),
            scim_base_url=(settings.public_base_url or "").rstrip("/") + "/scim/v2",
        )
