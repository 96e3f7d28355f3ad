"""Creation of SCIM groups, one at a time or as a Bulk request's batch.

A group created with members gets ``group.created`` then ``group.members_added``
(``services.group_events``); the kinds of its members come back from the one
INSERT … SELECT that adds them, so no member is read for its events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import Context
from sqlalchemy.orm import Session

from sitescim.db.models import AuditEvent, Group, new_id
from sitescim.db.repositories import groups as groups_repo
from sitescim.domain.actions import Action
from sitescim.scim.group_mapping import group_from_scim
from sitescim.services import audit, groups
from sitescim.services.events import NewEvent, emit
from sitescim.services.group_events import MemberLedger, group_events
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken


@dataclass(frozen=True, slots=True)
class _NewGroup:
    """A group ready to insert: its row, its member ids and its audit row."""

    group: Group
    members: list[str]
    event: AuditEvent
    now: datetime


def _new_group(
    runtime: Runtime, token: AuthenticatedToken, payload: dict[str, Any], address: str | None
) -> _NewGroup:
    data = group_from_scim(payload, context=Context.RESOURCE_CREATION_REQUEST)
    now = runtime.clock()
    group = Group(
        id=new_id(),
        site_id=token.site_id,
        display_name=data.display_name,
        display_name_key=data.display_name.casefold(),
        external_id=data.external_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    event = audit.event(
        now=now,
        site_id=token.site_id,
        action=Action.SCIM_GROUP_CREATE,
        who=token.who,
        target=("group", group.id),
        address=address,
        detail={"attributes": groups.input_attributes(data)},
    )
    return _NewGroup(group, data.members, event, now)


def _insert(
    session: Session, token: AuthenticatedToken, new: Sequence[_NewGroup], base_url: str
) -> bool:
    """One INSERT of groups, one of members (INSERT … SELECT, whatever their number),
    one of audit rows, one of events; False, with the audit rows and events
    unwritten, if some member id is no user or group of the site (the caller
    undoes the rest)."""
    groups_repo.insert_groups(session, [item.group for item in new])
    pairs = [(item.group.id, member) for item in new for member in item.members]
    added = groups_repo.add_site_members(session, token.site_id, pairs)
    if sum(len(kinds) for kinds in added.values()) != len(pairs):
        return False
    audit.record_all(session, [item.event for item in new])
    events: list[NewEvent] = []
    for item in new:
        kinds = added.get(item.group.id, {})
        ledger = MemberLedger()
        ledger.added([(member, kinds[member]) for member in item.members])
        events.extend(
            group_events(token, item.group, base_url, item.now, ledger=ledger, created=True)
        )
    emit(session, *events)
    return True


@audit.records_failures(Action.SCIM_GROUP_CREATE, "group", with_id=False)
def create_group(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    payload: dict[str, Any],
    *,
    base_url: str,
    with_members: bool = True,
    address: str | None = None,
) -> groups.GroupResult:
    new = _new_group(runtime, token, payload, address)
    if not _insert(session, token, [new], base_url):  # say which ids are unknown
        groups.resolve_members(session, token.site_id, new.members, group_id=None)
    return groups.GroupResult(
        new.group, groups.read_members(session, new.group, with_members=with_members)
    )


class _UnknownMemberError(Exception):
    """Some member of a batch is no user or group of the site: the batch is undone."""


def create_groups(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    payloads: Sequence[dict[str, Any]],
    *,
    base_url: str,
    address: str | None = None,
) -> list[Group | None]:
    """A Bulk request's run of group creations as one batch (``_insert``).

    Each new group, or None for a payload this batch leaves to ``create_group``
    alone (an invalid one: its single use case then gives its error and audit).
    Should some member id be no user or group of the site, none of the batch
    stays and every payload is left.
    """
    prepared: list[_NewGroup | None] = []
    for payload in payloads:
        try:
            prepared.append(_new_group(runtime, token, payload, address))
        except Exception:  # create_group raises it again, and audits it
            prepared.append(None)
    ready = [item for item in prepared if item is not None]
    if ready:
        try:
            with session.begin_nested():
                if not _insert(session, token, ready, base_url):
                    raise _UnknownMemberError
        except _UnknownMemberError:
            return [None] * len(payloads)
    return [None if item is None else item.group for item in prepared]
