"""The token lifecycle: issue, list, revoke, authenticate (rules T1-T11).

Issuing and revoking write ``token.created`` / ``token.revoked`` in the same
transaction, with the Promaster as actor and the token's public fields as data
(``token_events``): never its value or its hash.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sitescim.db.models import AccessToken
from sitescim.db.reads import Reads, UsersWhere
from sitescim.db.records import TokenRecord, UserSnapshot
from sitescim.db.repositories import tokens as tokens_repo
from sitescim.domain import tokens as rules
from sitescim.domain.actions import Action
from sitescim.domain.errors import (
    ActiveTokenExistsError,
    InsufficientScopeError,
    InvalidTokenError,
    NotFoundError,
    PermissionDeniedError,
)
from sitescim.domain.events import EventType
from sitescim.domain.passwords import MIN_LENGTH
from sitescim.domain.privileges import Actor, Privilege
from sitescim.services import audit
from sitescim.services.events import emit
from sitescim.services.runtime import Runtime
from sitescim.services.token_events import token_event

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The only object that ever carries a token's value (T5)."""

    id: str
    value: str
    description: str
    scope: str
    created_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedToken(id={self.id!r}, value='[hidden]')"


@dataclass(frozen=True, slots=True)
class TokenView:
    id: str
    description: str
    scope: str
    created_by: str
    created_by_id: str | None
    creator_is_promaster: bool
    created_at: datetime
    expires_at: datetime
    days_left: int
    expires_soon: bool
    last_used_at: datetime | None
    last_used_from: str | None
    status: rules.TokenStatus
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True, slots=True)
class AuthenticatedToken:
    """Who a SCIM request acts as: the site (T2), through this token."""

    token_id: str
    site_id: str
    site_slug: str
    scope: str
    description: str
    # The site's provisioning policy, read with the token so a write needs no site read.
    may_set_promaster: bool = False
    password_min_length: int = MIN_LENGTH
    scim_rate_limit: str | None = None

    @property
    def who(self) -> audit.Who:
        """This token as the actor of an audit row."""
        return audit.Who.token(self.token_id, self.description)


def _view(token: AccessToken, now: datetime) -> TokenView:
    creator = token.creator
    creator_is_promaster = (
        creator is not None and creator.active and creator.privilege == Privilege.PROMASTER
    )
    return TokenView(
        id=token.id,
        description=token.description,
        scope=token.scope,
        created_by=token.created_by_label,
        created_by_id=token.created_by_id,
        creator_is_promaster=creator_is_promaster,
        created_at=token.created_at,
        expires_at=token.expires_at,
        days_left=rules.days_left(token.expires_at, now),
        expires_soon=token.revoked_at is None and rules.expires_soon(token.expires_at, now),
        last_used_at=token.last_used_at,
        last_used_from=token.last_used_from,
        status=rules.token_status(
            revoked_at=token.revoked_at, expires_at=token.expires_at, now=now
        ),
        revoked_at=token.revoked_at,
        revoked_by=token.revoked_by_label,
    )


def _ensure_may_manage(
    session: Session, runtime: Runtime, actor: Actor, *, action: Action, address: str | None
) -> None:
    try:
        rules.ensure_may_manage_tokens(actor, site_id=actor.site_id)
    except PermissionDeniedError as error:
        audit.record_refusal(
            session,
            runtime,
            site_id=actor.site_id,
            action=action,
            who=audit.Who.person(actor),
            address=address,
            message=str(error),
        )
        raise


def issue_token(
    session: Session,
    runtime: Runtime,
    actor: Actor,
    *,
    description: object,
    scope: object = "scim",
    address: str | None = None,
) -> IssuedToken:
    _ensure_may_manage(session, runtime, actor, action=Action.TOKEN_CREATE, address=address)
    clean_description = rules.validate_description(description)
    chosen = rules.validate_scope(scope)
    now = runtime.clock()
    tokens_repo.retire_expired_tokens_held_by(session, actor.user_id, now)
    try:
        if tokens_repo.find_active_token_held_by(session, actor.user_id) is not None:
            raise ActiveTokenExistsError()
        value = rules.generate_token()
        token = tokens_repo.add_token(
            session,
            AccessToken(
                site_id=actor.site_id,
                token_hash=rules.hash_token(value, runtime.pepper),
                description=clean_description,
                scope=chosen.name,
                created_by_id=actor.user_id,
                created_by_label=actor.label,
                active_holder_id=actor.user_id,
                created_at=now,
                expires_at=rules.expiry_for(now),
            ),
        )
    except ActiveTokenExistsError as error:
        audit.record_refusal(
            session,
            runtime,
            site_id=actor.site_id,
            action=Action.TOKEN_CREATE,
            who=audit.Who.person(actor),
            address=address,
            message=str(error),
        )
        raise
    audit.record(
        session,
        now=now,
        site_id=actor.site_id,
        action=Action.TOKEN_CREATE,
        who=audit.Who.person(actor),
        target=("token", token.id),
        address=address,
        detail={"description": token.description, "scope": token.scope},
    )
    emit(session, token_event(EventType.TOKEN_CREATED, token, actor, now))
    log.info(
        "token created",
        extra={"token_id": token.id, "site_id": actor.site_id, "by": actor.user_id},
    )
    return IssuedToken(
        id=token.id,
        value=value,
        description=token.description,
        scope=token.scope,
        created_at=token.created_at,
        expires_at=token.expires_at,
    )


def list_tokens(
    session: Session, runtime: Runtime, actor: Actor, *, address: str | None = None
) -> Sequence[TokenView]:
    _ensure_may_manage(session, runtime, actor, action=Action.TOKEN_LIST, address=address)
    now = runtime.clock()
    return [_view(token, now) for token in tokens_repo.list_tokens(session, actor.site_id)]


def revoke_token(
    session: Session,
    runtime: Runtime,
    actor: Actor,
    token_id: str,
    *,
    address: str | None = None,
) -> TokenView:
    """Revoking twice is harmless: the first revocation's record stands."""
    _ensure_may_manage(session, runtime, actor, action=Action.TOKEN_REVOKE, address=address)
    token = tokens_repo.get_token(session, actor.site_id, token_id)
    if token is None:
        raise NotFoundError("No such token in this site.")
    now = runtime.clock()
    if token.revoked_at is None:
        token.revoked_at = now
        token.revoked_by_id = actor.user_id
        token.revoked_by_label = actor.label
        token.active_holder_id = None
        session.flush()
        audit.record(
            session,
            now=now,
            site_id=actor.site_id,
            action=Action.TOKEN_REVOKE,
            who=audit.Who.person(actor),
            target=("token", token.id),
            address=address,
            detail={"description": token.description},
        )
        emit(session, token_event(EventType.TOKEN_REVOKED, token, actor, now))
        log.info("token revoked", extra={"token_id": token.id, "site_id": actor.site_id})
    return _view(token, now)


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What reading a bearer value found, before anything is written.

    Split from ``settle_check`` so the web layer can run the read (one indexed
    lookup) inline and send only the rare writes (an audited failure, a stale
    last use) to a worker thread.
    """

    found: AuthenticatedToken | None
    failure: str | None
    stale: bool
    now: datetime
    user: UserSnapshot | None = None
    """The user read with the token (``check_token``'s ``user_id``), once the token is
    good; None when not asked or absent (``user_read`` tells which)."""
    user_read: bool = False
    users: list[UserSnapshot] | None = None
    """The users ``check_token``'s ``where`` found, once the token is good; None when
    not asked."""

    @property
    def needs_writes(self) -> bool:
        return self.failure is not None or self.stale

    @property
    def who(self) -> audit.Who:
        """The actor of a refusal's audit row: the token when one was found, else
        nobody; made only then, not for every good check."""
        return audit.ANONYMOUS if self.found is None else self.found.who


def _judge(
    runtime: Runtime,
    row: TokenRecord | None,
    digest: str,
    *,
    api: str,
    now: datetime,
    user: UserSnapshot | None = None,
    user_read: bool = False,
    users: list[UserSnapshot] | None = None,
) -> TokenCheck:
    """What a looked-up token allows: the rules after the read, shared by both readers."""
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return TokenCheck(None, "unknown", False, now)
    found = AuthenticatedToken(
        token_id=row.id,
        site_id=row.site_id,
        site_slug=row.site_slug,
        scope=row.scope,
        description=row.description,
        may_set_promaster=bool(row.scim_may_set_promaster),
        password_min_length=row.password_min_length,
        scim_rate_limit=row.scim_rate_limit,
    )
    status = rules.token_status(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now)
    if status is not rules.TokenStatus.ACTIVE:
        return TokenCheck(found, status.value, False, now)
    if not rules.scope_allows(found.scope, api):
        return TokenCheck(found, "scope", False, now)
    stale = rules.last_use_is_stale(row.last_used_at, now, runtime.last_used_resolution)
    return TokenCheck(found, None, stale, now, user, user_read, users)


def _digest_or_refusal(runtime: Runtime, value: str | None, now: datetime) -> str | TokenCheck:
    """The keyed hash to look up, or the refusal of a missing or malformed value,
    decided before any lookup (T9)."""
    if not value:
        return TokenCheck(None, "missing", False, now)
    if not rules.is_well_formed(value):
        return TokenCheck(None, "malformed", False, now)
    return rules.hash_token(value, runtime.pepper)


async def check_token(
    runtime: Runtime,
    reads: Reads,
    value: str | None,
    *,
    api: str = rules.SCIM_API,
    user_id: str | None = None,
    where: UsersWhere | None = None,
) -> TokenCheck:
    """The SCIM hot path's check: one indexed read of the token and its site by keyed
    hash (never a cached answer, so a revocation counts on the very next request, T8),
    compared in constant time.

    With ``user_id``, the same statement reads that user of the token's site (one
    round trip on PostgreSQL instead of two), handed on only when the token is good;
    with ``where``, the users of an ``eq`` lookup, likewise.
    """
    now = runtime.clock()
    digest = _digest_or_refusal(runtime, value, now)
    if isinstance(digest, TokenCheck):
        return digest
    if where is not None:
        row, users = await reads.token_and_users_where(digest, where)
        return _judge(runtime, row, digest, api=api, now=now, users=users)
    if user_id is None:
        return _judge(runtime, await reads.token(digest), digest, api=api, now=now)
    row, user = await reads.token_and_user(digest, user_id)
    return _judge(runtime, row, digest, api=api, now=now, user=user, user_read=True)


def check_token_sync(
    runtime: Runtime, value: str | None, *, api: str = rules.SCIM_API
) -> TokenCheck:
    """The same check through SQLAlchemy, for callers without an event loop."""
    now = runtime.clock()
    digest = _digest_or_refusal(runtime, value, now)
    if isinstance(digest, TokenCheck):
        return digest
    with runtime.db.reading() as connection:
        row = tokens_repo.find_token_credentials(connection, digest)
    return _judge(runtime, row, digest, api=api, now=now)


def settle_check(
    runtime: Runtime, check: TokenCheck, *, address: str | None = None
) -> AuthenticatedToken:
    """Audit a failure and raise it, or record a stale last use and return the token."""
    if check.failure is not None or check.found is None:
        reason = check.failure or "unknown"
        site_id = check.found.site_id if check.found else None
        audit.record_auth_failure(
            runtime, reason=reason, address=address, site_id=site_id, who=check.who
        )
        if reason == "scope":
            raise InsufficientScopeError("This token's scope does not allow this API.")
        raise InvalidTokenError(reason)
    if check.stale:
        with runtime.db.transaction(write=True) as session:
            tokens_repo.touch_token_use(
                session,
                check.found.token_id,
                now=check.now,
                address=address,
                stale_before=check.now - runtime.last_used_resolution,
            )
    return check.found


def authenticate(
    runtime: Runtime, value: str | None, *, api: str = rules.SCIM_API, address: str | None = None
) -> AuthenticatedToken:
    """Resolve a bearer value to the site it acts for (T2), or raise; failures are audited."""
    return settle_check(runtime, check_token_sync(runtime, value, api=api), address=address)


def warn_expiring_tokens(runtime: Runtime) -> int:
    """Log each token within the warning window once a day, across all instances (T6)."""
    now = runtime.clock()
    warned = 0
    with runtime.db.transaction(write=True) as session:
        for token in tokens_repo.tokens_expiring_between(session, now, now + rules.EXPIRY_WARNING):
            if tokens_repo.claim_expiry_warning(session, token.id, now.date()):
                warned += 1
                log.warning(
                    "SCIM token expires soon",
                    extra={
                        "token_id": token.id,
                        "site": token.site.slug,
                        "description": token.description,
                        "days_left": rules.days_left(token.expires_at, now),
                        "expires_at": token.expires_at.isoformat(),
                    },
                )
    return warned
