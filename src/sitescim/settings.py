"""Configuration from ``SITESCIM_*`` environment variables.

The embedded default (a SQLite file) must run with no set-up at all, yet nothing
secret may be hard-coded or committed: so when the token pepper or the session
secret is not given, they are generated once and kept in a 0600 file beside the
database file, and read from there on every later start. In production mode both
must be given explicitly, because a secret file beside a database of several
instances would differ per machine and silently break token lookups.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///sitescim.db"
MIN_SECRET_LENGTH = 32
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


class InsecureSettingsError(ValueError):
    """Settings that would be unsafe to run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SITESCIM_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Worker processes of `sitescim serve`; None: one per core on PostgreSQL, 1 on SQLite.
    workers: int | None = Field(default=None, ge=1)
    public_base_url: str | None = None
    # Host names a request's Host header may carry into absolute URLs (meta.location,
    # Location) when they are built from the request; others are replaced by the
    # address the client connected to (web.hosts). Loopback names, HOST and the public
    # base URL's host are always allowed; "*" allows any (behind a proxy that checks).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    token_pepper: SecretStr | None = None
    session_secret: SecretStr | None = None
    secrets_file: Path | None = None
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool = False
    last_used_resolution_seconds: int = Field(default=60, ge=0)
    auth_failure_audit_window_seconds: int = Field(default=60, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # RFC 7644 §3.7.4 limits of POST /Bulk, declared in /ServiceProviderConfig. The payload
    # limit replaces max_body_bytes on that path: 1,000 typical users need about 0.5-1 MiB.
    bulk_max_operations: int = Field(default=1000, ge=1)
    bulk_max_payload_bytes: int = Field(default=2_097_152, ge=1024)
    # HTTP limits of `sitescim serve` (web.server): the request head's size, its number
    # of headers, the time to send it; idle keep-alive; connections served at once
    # (more get 503 from uvicorn).
    http_max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    http_max_headers: int = Field(default=100, ge=10)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    http_max_connections: int = Field(default=1000, ge=1)
    # Events stay in the feed this long, then the daily upkeep prunes them.
    events_retention_days: int = Field(default=30, ge=1, le=3650)
    # True: identity-provider quirks are refused with RFC errors, not normalised (scim.compat).
    scim_strict: bool = False
    log_level: str = "INFO"
    # auto: readable lines when stderr is a terminal, JSON lines otherwise (sitescim.logs).
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """``SITESCIM_ALLOWED_HOSTS=a.example,b.example``: names, compared without case."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(host).strip().lower() for host in value if str(host).strip()]
        return value

    # Rate limits in the `limits` library's notation ("100/second;3000/minute"), shared
    # through Redis when redis_url is set (else per process). Entra ID asks a SCIM app to
    # take 25 requests a second per provisioning job: 100 a token leaves four times that.
    # Okta's provisioning leaves from addresses its customers share: 1000 an address.
    redis_url: str | None = None
    rate_limit_key_prefix: str = "sitescim"
    rate_limit_scim_per_token: str = "100/second"  # noqa: S105 - a rate, not a secret
    rate_limit_scim_per_address: str = "1000/second"
    rate_limit_sign_in_per_address: str = "60/minute"
    rate_limit_sign_in_per_account: str = "10/minute"
    # /metrics answers requests bearing this secret; without one, only loopback clients.
    metrics_token: SecretStr | None = None
    # E-mail for token-expiry notices: smtp://, smtp+starttls:// or smtps://[user:password@]
    # host[:port]. Secret, since it may carry a password. Unset: no e-mail is written at all.
    smtp_url: SecretStr | None = None
    smtp_from: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # Webhooks (spec section 6). Loopback and private addresses are refused unless allowed
    # (tests, private networks). A sending instance leases the deliveries it claims for
    # this long: after a crash, another takes them over once the lease ends.
    webhooks_allow_private: bool = False
    webhooks_lease_seconds: int = Field(default=300, ge=1)
    # The background worker (webhook delivery, periodic jobs): `sitescim serve` starts a
    # `sitescim worker` process; create_app alone runs it in a thread. False: neither.
    worker: bool = True

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment == "production":
            for name in ("token_pepper", "session_secret"):
                value: SecretStr | None = getattr(self, name)
                if value is None or len(value.get_secret_value()) < MIN_SECRET_LENGTH:
                    raise InsecureSettingsError(
                        f"SITESCIM_{name.upper()} must be set to at least "
                        f"{MIN_SECRET_LENGTH} characters in production"
                    )
            if self.metrics_token is not None and (
                len(self.metrics_token.get_secret_value()) < MIN_SECRET_LENGTH
            ):
                raise InsecureSettingsError(
                    f"SITESCIM_METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters"
                )
            if not self.cookie_secure:
                raise InsecureSettingsError("SITESCIM_COOKIE_SECURE must be true in production")
            if not self.public_base_url:
                # Else absolute URLs would come from the request's Host header.
                raise InsecureSettingsError(
                    "SITESCIM_PUBLIC_BASE_URL must be set in production "
                    "(for example https://scim.example.com)"
                )
        if self.smtp_url is not None:
            smtp = urlsplit(self.smtp_url.get_secret_value())
            try:
                smtp.port  # noqa: B018 - parsing it is the check
            except ValueError:
                raise ValueError("SITESCIM_SMTP_URL has a port out of range") from None
            if smtp.scheme not in SMTP_SCHEMES or not smtp.hostname:
                # Names the schemes only: the URL itself may carry a password.
                raise ValueError(
                    "SITESCIM_SMTP_URL must be smtp://, smtp+starttls:// or smtps:// with a host"
                )
            if not self.smtp_from:
                raise ValueError("SITESCIM_SMTP_FROM must be set when SITESCIM_SMTP_URL is")
        if self.public_base_url:
            parsed = urlsplit(self.public_base_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("SITESCIM_PUBLIC_BASE_URL must be an http(s) URL with a host")
        return self

    @field_validator(
        "rate_limit_scim_per_token",
        "rate_limit_scim_per_address",
        "rate_limit_sign_in_per_address",
        "rate_limit_sign_in_per_account",
    )
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        parse_many(value)  # a ValueError names what is wrong
        return value

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite URL, or None for other databases."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        rest = self.database_url[len(prefix) :].split("?", 1)[0]
        return None if rest in ("", ":memory:") else Path(rest)

    def default_secrets_file(self) -> Path:
        if self.secrets_file is not None:
            return self.secrets_file
        db_file = self.sqlite_path
        if db_file is not None:
            return db_file.with_name(db_file.name + ".secrets.json")
        return Path("sitescim.secrets.json")

    def with_generated_secrets(self) -> Settings:
        """Fill missing secrets from (or into) the 0600 secrets file."""
        if self.token_pepper is not None and self.session_secret is not None:
            return self
        stored = load_or_create_secrets(self.default_secrets_file())
        return self.model_copy(
            update={
                "token_pepper": self.token_pepper or SecretStr(stored["token_pepper"]),
                "session_secret": self.session_secret or SecretStr(stored["session_secret"]),
            }
        )

    def pepper_bytes(self) -> bytes:
        if self.token_pepper is None:
            raise InsecureSettingsError("no token pepper configured")
        return self.token_pepper.get_secret_value().encode()

    def cursor_key(self) -> bytes:
        """The key that seals SCIM list cursors, derived from the session secret so
        that every instance sharing that secret accepts the others' cursors."""
        return _cursor_key(self.session_secret_value())

    def session_secret_value(self) -> str:
        if self.session_secret is None:
            raise InsecureSettingsError("no session secret configured")
        return self.session_secret.get_secret_value()


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Read the generated secrets, creating the file with mode 0600 on first use."""
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        if {"token_pepper", "session_secret"} <= data.keys():
            return data
        # Regenerating would loop on the link below and could silently replace a pepper.
        raise InsecureSettingsError(
            f"{path} lacks token_pepper or session_secret: restore it, or set "
            "SITESCIM_TOKEN_PEPPER and SITESCIM_SESSION_SECRET"
        )
    data = {
        "token_pepper": secrets.token_urlsafe(48),
        "session_secret": secrets.token_urlsafe(48),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    try:
        os.link(tmp, path)  # atomic: a concurrent first start keeps the winner's secrets
    except FileExistsError:
        return load_or_create_secrets(path)
    finally:
        tmp.unlink()
    return data


def update_secrets_file(path: Path, **values: str) -> None:
    """Add entries (such as the demo password) to the 0600 secrets file."""
    data = load_or_create_secrets(path)
    data.update(values)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    tmp.replace(path)


@lru_cache
def get_settings() -> Settings:
    return Settings().with_generated_secrets()


@lru_cache(maxsize=4)
def _cursor_key(session_secret: str) -> bytes:
    """Derived once a secret: every SCIM list request asks for it."""
    return hmac.digest(session_secret.encode(), b"sitescim cursor key v1", hashlib.sha256)
