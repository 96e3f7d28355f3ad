"""SCIM Groups: read, replace, patch, delete and list a site's groups (creation
is in ``group_creation``).

The site is always the token's (T2, T10): every query is scoped by it, and a
member id that is not a user or group of that site is refused as unknown, the
same answer whether it exists elsewhere or nowhere. Every check runs before the
first write, and the request's transaction rolls back on any error, so a
refused request leaves nothing behind.

Membership changes go through ``scim.patching``'s plan of targeted steps, so
adding or removing one member costs the same in a group of three as in a group
of 100,000. Every change bumps the group's version (its ETag) and is audited
with the token, naming the attributes changed and never their values.

Every change also writes its events in the same transaction
(``services.group_events`` says what they hold). A group created with members
gets ``group.created`` then ``group.members_added``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
    InvalidValueException,
    PreconditionFailedException,
)
from sqlalchemy.orm import Session

from sitescim.db import listings
from sitescim.db.models import Group
from sitescim.db.repositories import groups as groups_repo
from sitescim.domain.actions import Action
from sitescim.domain.errors import NotFoundError
from sitescim.domain.events import EventType
from sitescim.scim import filtering, listing
from sitescim.scim.etags import make_etag
from sitescim.scim.group_mapping import GroupInput, MemberView, group_document, group_from_scim
from sitescim.scim.group_patch import everyday_plan
from sitescim.scim.listing import ListQuery
from sitescim.scim.patching import GroupPatch, StepKind, parse_group_patch
from sitescim.services import audit
from sitescim.services.events import emit
from sitescim.services.group_events import MemberLedger, group_event, group_events
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken

_NAMED_IDS = 5  # how many unknown ids an error message names


@dataclass(frozen=True, slots=True)
class GroupResult:
    """A group row and, unless the caller asked not to read them, its members."""

    group: Group
    members: list[MemberView] | None


@dataclass(frozen=True, slots=True)
class GroupPage:
    total: int
    start_index: int | None  # None when a cursor pages (RFC 9865)
    items: list[GroupResult]
    next_cursor: str | None = None


def get_group(
    session: Session, token: AuthenticatedToken, group_id: str, *, with_members: bool = True
) -> GroupResult:
    group = _require(session, token.site_id, group_id)
    return GroupResult(group, read_members(session, group, with_members=with_members))


@audit.records_failures(Action.SCIM_GROUP_REPLACE, "group")
def replace_group(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    group_id: str,
    payload: dict[str, Any],
    *,
    base_url: str,
    if_match: str | None = None,
    with_members: bool = True,
    address: str | None = None,
) -> GroupResult:
    """PUT: the body is the whole new state, members included (absent = none)."""
    group = _require_for_change(session, token.site_id, group_id)
    _check_precondition(group, if_match)
    data = group_from_scim(payload, context=Context.RESOURCE_REPLACEMENT_REQUEST)
    members = resolve_members(session, token.site_id, data.members, group_id=group.id)
    changed = _set_attributes(
        group, {"display_name": data.display_name, "external_id": data.external_id}
    )
    ledger = MemberLedger()
    ledger.removed(groups_repo.clear_memberships(session, group.id))
    _add(session, token.site_id, group, members, ledger)
    _bump(session, group, runtime)
    _audit(
        session, runtime, token, Action.SCIM_GROUP_REPLACE, group, input_attributes(data), address
    )
    emit(
        session, *group_events(token, group, base_url, group.updated_at, ledger, attributes=changed)
    )
    return GroupResult(group, read_members(session, group, with_members=with_members))


@audit.records_failures(Action.SCIM_GROUP_PATCH, "group")
def patch_group(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    group_id: str,
    body: dict[str, Any],
    *,
    base_url: str,
    if_match: str | None = None,
    with_members: bool = True,
    address: str | None = None,
) -> GroupResult:
    """PATCH: only the members the operations name are read or written."""
    group = _require_for_change(session, token.site_id, group_id)
    _check_precondition(group, if_match)
    plan = everyday_plan(body) or parse_group_patch(body)
    kinds = dict(resolve_members(session, token.site_id, sorted(plan.member_ids), group.id))
    changed, ledger = _apply(session, token.site_id, group, plan, kinds)
    _bump(session, group, runtime)
    _audit(
        session, runtime, token, Action.SCIM_GROUP_PATCH, group, _patched_attributes(plan), address
    )
    emit(
        session, *group_events(token, group, base_url, group.updated_at, ledger, attributes=changed)
    )
    return GroupResult(group, read_members(session, group, with_members=with_members))


@audit.records_failures(Action.SCIM_GROUP_DELETE, "group")
def delete_group(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    group_id: str,
    *,
    base_url: str,
    if_match: str | None = None,
    address: str | None = None,
) -> None:
    """Its membership rows, and its rows as a member of other groups, go by cascade.

    Its ``group.deleted`` event shows it as it was, without members (none is
    read); no ``group.members_removed`` comes with it, for its own members or
    for the groups it was a member of.
    """
    group = _require_for_change(session, token.site_id, group_id)
    _check_precondition(group, if_match)
    data = group_document(group, None, base_url)
    groups_repo.delete_group(session, group)
    _audit(session, runtime, token, Action.SCIM_GROUP_DELETE, group, [], address)
    emit(session, group_event(EventType.GROUP_DELETED, token, group, data, runtime.clock()))


def list_groups(
    session: Session, token: AuthenticatedToken, query: ListQuery, *, with_members: bool = True
) -> GroupPage:
    """A page of groups matching the query; members for the page in one query, if shown."""
    page = listings.read_group_page(session, listing.plan_group_page(token.site_id, query))
    groups = page.groups
    members: dict[str, list[MemberView]] = {group.id: [] for group in groups}
    if with_members and groups:
        rows = groups_repo.list_group_members(
            session, token.site_id, [group.id for group in groups]
        )
        for group_id, member_id, kind, display in rows:
            members[group_id].append(MemberView(member_id, kind, display))
    return GroupPage(
        total=page.total,
        start_index=query.start_index if query.cursor is None else None,
        items=[GroupResult(group, members[group.id] if with_members else None) for group in groups],
        next_cursor=page.next_cursor,
    )


def _require(session: Session, site_id: str, group_id: str) -> Group:
    group = groups_repo.get_group(session, site_id, group_id)
    if group is None:
        raise NotFoundError(f"No group with id {group_id!r}.")
    return group


def _require_for_change(session: Session, site_id: str, group_id: str) -> Group:
    """The group, locked so concurrent writes bump its version in turn; ``_bump`` saves it."""
    group = groups_repo.read_group_for_change(session, site_id, group_id)
    if group is None:
        raise NotFoundError(f"No group with id {group_id!r}.")
    return group


def _check_precondition(group: Group, if_match: str | None) -> None:
    """If-Match (RFC 7644 §3.14): a stale version gets 412, so no update is lost."""
    if if_match is None:
        return
    candidates = {tag.strip() for tag in if_match.split(",")}
    current = make_etag(group.id, group.version)
    weakless = current.removeprefix("W/")
    if "*" in candidates or current in candidates or weakless in candidates:
        return
    raise PreconditionFailedException(
        detail="The group has changed since that version; read it again."
    )


def resolve_members(
    session: Session, site_id: str, ids: Sequence[str], group_id: str | None
) -> list[tuple[str, str]]:
    """(id, "User"/"Group") for each id, or 400 naming the ids that are not the site's."""
    if group_id is not None and group_id in ids:
        raise InvalidValueException(detail="A group cannot be a member of itself.")
    if not ids:
        return []
    kinds = groups_repo.find_member_kinds(session, site_id, ids)
    unknown = [member_id for member_id in ids if member_id not in kinds]
    if unknown:
        named = ", ".join(repr(member_id) for member_id in unknown[:_NAMED_IDS])
        more = f" and {len(unknown) - _NAMED_IDS} more" if len(unknown) > _NAMED_IDS else ""
        raise InvalidValueException(
            detail=f"No user or group of this site has the id {named}{more}."
        )
    members = [(member_id, kinds[member_id]) for member_id in ids]
    if group_id is not None:
        groups = [member_id for member_id, kind in members if kind == "Group"]
        cycle = groups_repo.find_ancestor_among(session, site_id, group_id, groups)
        if cycle is not None:
            raise InvalidValueException(
                detail=f"The group {cycle!r} already contains this group; "
                "adding it as a member would make a cycle."
            )
    return members


def _apply(
    session: Session, site_id: str, group: Group, plan: GroupPatch, kinds: dict[str, str]
) -> tuple[list[str], MemberLedger]:
    """Run the plan; the SCIM names of the attributes whose value changed, and the
    members really added and removed."""
    changed = _set_attributes(group, plan.attributes)
    ledger = MemberLedger()
    for step in plan.steps:
        if step.kind == StepKind.CLEAR:
            ledger.removed(groups_repo.clear_memberships(session, group.id))
        if step.kind in (StepKind.ADD, StepKind.CLEAR):
            members = [(member_id, kinds[member_id]) for member_id in step.ids]
            _add(session, site_id, group, members, ledger)
        elif step.kind == StepKind.REMOVE:
            ledger.removed(groups_repo.remove_memberships(session, group.id, step.ids))
        elif step.kind == StepKind.REMOVE_MATCHING:
            # A filter other than ``value eq`` cannot name its rows up front
            # (identity providers only ever send ``value eq``): the database
            # picks them, and no member is read.
            assert step.value_filter is not None
            rows = filtering.member_rows(site_id, group.id, step.value_filter)
            ledger.removed(groups_repo.remove_memberships_among(session, group.id, rows))
    return changed, ledger


def _set_attributes(group: Group, values: dict[str, str | None]) -> list[str]:
    """Set columns of the group; the SCIM names of those whose value changed."""
    changed: list[str] = []
    for name, value in values.items():
        if getattr(group, name) != value:
            changed.append(_SCIM_NAMES[name])
        setattr(group, name, value)
        if name == "display_name":
            group.display_name_key = str(value).casefold()
    return changed


def _add(
    session: Session,
    site_id: str,
    group: Group,
    members: list[tuple[str, str]],
    ledger: MemberLedger,
) -> None:
    inserted = groups_repo.add_memberships(session, site_id, group.id, members)
    ledger.added([member for member in members if member[0] in inserted])


def read_members(session: Session, group: Group, *, with_members: bool) -> list[MemberView] | None:
    if not with_members:
        return None
    rows = groups_repo.list_group_members(session, group.site_id, [group.id])
    return [MemberView(member_id, kind, display) for _, member_id, kind, display in rows]


def _bump(session: Session, group: Group, runtime: Runtime) -> None:
    group.version += 1
    group.updated_at = runtime.clock()
    groups_repo.save_group(session, group)


def input_attributes(data: GroupInput) -> list[str]:
    names = ["displayName", "members"]
    return names if data.external_id is None else [*names, "externalId"]


_SCIM_NAMES = {"display_name": "displayName", "external_id": "externalId"}


def _patched_attributes(plan: GroupPatch) -> list[str]:
    names = [_SCIM_NAMES[name] for name in plan.attributes]
    return [*names, "members"] if plan.steps else names


def _audit(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    action: Action,
    group: Group,
    attributes: list[str],
    address: str | None,
) -> None:
    audit.record(
        session,
        now=runtime.clock(),
        site_id=token.site_id,
        action=action,
        who=token.who,
        target=("group", group.id),
        address=address,
        detail={"attributes": attributes} if attributes else None,
    )
