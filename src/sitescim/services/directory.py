"""Read-only views of what was provisioned, and of the audit log, for the web UI.

Lists are keyset-paginated in the order of an indexed key (``userName``, a
group's display name) and searched by prefix on indexed keys only, so a page
costs the same on a site of ten users as on one of a hundred thousand. Only
the site's Promasters see them: provisioning is their concern, and the list
holds everyone's e-mail address.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sitescim.db import repositories as repo
from sitescim.db.models import User
from sitescim.domain import documents
from sitescim.domain.errors import InvalidInputError, NotFoundError
from sitescim.domain.privileges import Actor, ensure_promaster

PAGE_SIZE = 50
MEMBERS_PAGE_SIZE = 100
SEARCH_MAX = 100
GROUPS_SHOWN = 3
COUNT_CAP = 1000  # a search counts no further: "more than 1,000" is answer enough


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: str
    name: str
    user_name: str
    email: str | None
    active: bool
    groups: tuple[str, ...]
    more_groups: int


@dataclass(frozen=True, slots=True)
class PeoplePage:
    people: Sequence[PersonRow]
    total: int
    more_than_total: bool  # a search stops counting at COUNT_CAP
    search: str
    next_after: str | None
    prev_before: str | None


@dataclass(frozen=True, slots=True)
class Value:
    value: str
    type: str | None
    primary: bool


@dataclass(frozen=True, slots=True)
class Ref:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class PersonDetail:
    id: str
    name: str
    user_name: str
    display_name: str | None
    external_id: str | None
    active: bool
    privilege: str
    title: str | None
    department: str | None
    organization: str | None
    emails: tuple[Value, ...]
    phone_numbers: tuple[Value, ...]
    groups: tuple[Ref, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class GroupRow:
    id: str
    name: str
    member_count: int


@dataclass(frozen=True, slots=True)
class GroupsPage:
    groups: Sequence[GroupRow]
    total: int
    search: str
    next_after: str | None
    prev_before: str | None


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class GroupDetail:
    id: str
    name: str
    external_id: str | None
    member_count: int
    members: tuple[Member, ...]
    next_after: int | None
    created_at: datetime
    updated_at: datetime


def _search_key(search: str | None) -> str:
    text = (search or "").strip()
    if len(text) > SEARCH_MAX:
        raise InvalidInputError("q", f"must be at most {SEARCH_MAX} characters")
    return text


def _encode(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _decode(cursor: str | None, size: int) -> list[str] | None:
    """An opaque page marker back into its key parts; a damaged one is a clear 400."""
    if not cursor:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        parts = None
    if (
        not isinstance(parts, list)
        or len(parts) != size
        or not all(isinstance(part, str) and _storable(part) for part in parts)
    ):
        raise InvalidInputError("page", "is not a page marker of this list")
    return parts


def _storable(text: str) -> bool:
    """No NUL or lone surrogate, which a query parameter of PostgreSQL cannot carry."""
    try:
        documents.check_text("page", text)
    except InvalidInputError:
        return False
    return True


def _person_name(user: User) -> str:
    if user.name_formatted:
        return user.name_formatted
    parts = [part for part in (user.name_given, user.name_family) if part]
    return " ".join(parts) or user.display_name or ""


def _first_email(values: Sequence[repo.ContactValue], fallback: str | None) -> str | None:
    emails = [v for v in values if v.attribute == "emails"]
    primary = [v for v in emails if v.primary]
    chosen = (primary or emails)[:1]
    return chosen[0].value if chosen else fallback


def list_people(
    session: Session,
    actor: Actor,
    *,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> PeoplePage:
    ensure_promaster(actor, "the site's people")
    text = _search_key(search)
    prefix = text.casefold() or None
    after_key = _decode(after, 1)
    before_key = _decode(before, 1)
    counted = repo.count_people(session, actor.site_id, prefix=prefix, cap=COUNT_CAP)
    rows = repo.list_people(
        session,
        actor.site_id,
        prefix=prefix,
        after=after_key[0] if after_key else None,
        before=before_key[0] if before_key else None,
        limit=limit + 1,
        many_emails_match=counted.many_emails_match,
    )
    more = len(rows) > limit
    rows = rows[-limit:] if before_key else rows[:limit]
    ids = [user.id for user in rows]
    values: dict[str, list[repo.ContactValue]] = defaultdict(list)
    for value in repo.list_contact_values(session, actor.site_id, ids, ["emails"]):
        values[value.user_id].append(value)
    groups: dict[str, list[str]] = defaultdict(list)
    for user_id, _group_id, name in repo.list_user_groups(session, actor.site_id, ids):
        groups[user_id].append(name)
    people = [
        PersonRow(
            id=user.id,
            name=_person_name(user),
            user_name=user.user_name,
            email=_first_email(values[user.id], user.email),
            active=user.active,
            groups=tuple(groups[user.id][:GROUPS_SHOWN]),
            more_groups=max(0, len(groups[user.id]) - GROUPS_SHOWN),
        )
        for user in rows
    ]
    has_next = more if not before_key else True
    has_prev = (more if before_key else after_key is not None) and bool(rows)
    return PeoplePage(
        people=people,
        total=min(counted.total, COUNT_CAP),
        more_than_total=counted.total > COUNT_CAP,
        search=text,
        next_after=_encode(rows[-1].user_name_key) if rows and has_next else None,
        prev_before=_encode(rows[0].user_name_key) if has_prev else None,
    )


def get_person(session: Session, actor: Actor, user_id: str) -> PersonDetail:
    ensure_promaster(actor, "the site's people")
    user = repo.get_user(session, actor.site_id, user_id)
    if user is None:
        raise NotFoundError("No such person in this site.")
    values = repo.list_contact_values(session, actor.site_id, [user.id], ["emails", "phoneNumbers"])

    def of(attribute: str) -> tuple[Value, ...]:
        return tuple(
            Value(value=v.value, type=v.type, primary=v.primary)
            for v in values
            if v.attribute == attribute
        )

    emails = of("emails")
    if not emails and user.email:
        emails = (Value(value=user.email, type=None, primary=True),)
    groups = repo.list_user_groups(session, actor.site_id, [user.id])
    return PersonDetail(
        id=user.id,
        name=_person_name(user),
        user_name=user.user_name,
        display_name=user.display_name,
        external_id=user.external_id,
        active=user.active,
        privilege=user.privilege,
        title=user.title,
        department=user.department,
        organization=user.organization,
        emails=emails,
        phone_numbers=of("phoneNumbers"),
        groups=tuple(Ref(id=group_id, name=name) for _user, group_id, name in groups),
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def list_groups(
    session: Session,
    actor: Actor,
    *,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> GroupsPage:
    ensure_promaster(actor, "the site's groups")
    text = _search_key(search)
    prefix = text.casefold() or None
    after_key = _decode(after, 2)
    before_key = _decode(before, 2)
    rows = repo.list_groups_by_name(
        session,
        actor.site_id,
        prefix=prefix,
        after=(after_key[0], after_key[1]) if after_key else None,
        before=(before_key[0], before_key[1]) if before_key else None,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[-limit:] if before_key else rows[:limit]
    counts = repo.count_members(session, actor.site_id, [group.id for group in rows])
    has_next = more if not before_key else True
    has_prev = (more if before_key else after_key is not None) and bool(rows)
    return GroupsPage(
        groups=[
            GroupRow(id=group.id, name=group.display_name, member_count=counts.get(group.id, 0))
            for group in rows
        ],
        total=repo.count_groups_matching(session, actor.site_id, prefix=prefix),
        search=text,
        next_after=_encode(rows[-1].display_name_key, rows[-1].id) if rows and has_next else None,
        prev_before=_encode(rows[0].display_name_key, rows[0].id) if has_prev else None,
    )


def get_group(
    session: Session,
    actor: Actor,
    group_id: str,
    *,
    after: int | None = None,
    limit: int = MEMBERS_PAGE_SIZE,
) -> GroupDetail:
    """A group and one page of its members, however many it has."""
    ensure_promaster(actor, "the site's groups")
    group = repo.get_group(session, actor.site_id, group_id)
    if group is None:
        raise NotFoundError("No such group in this site.")
    rows = repo.list_group_members_page(
        session, actor.site_id, group.id, after_id=after, limit=limit + 1
    )
    page = rows[:limit]
    return GroupDetail(
        id=group.id,
        name=group.display_name,
        external_id=group.external_id,
        member_count=repo.count_members(session, actor.site_id, [group.id]).get(group.id, 0),
        members=tuple(
            Member(id=member_id, kind=kind, name=name) for _, member_id, kind, name in page
        ),
        next_after=page[-1][0] if len(rows) > limit else None,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """Who is signed in, in which site: what every page's header shows."""

    user_id: str
    label: str
    privilege: str
    is_promaster: bool
    site_name: str
    site_slug: str


def profile_of(session: Session, actor: Actor) -> Profile:
    site = repo.get_site(session, actor.site_id)
    if site is None:
        raise NotFoundError("No such site.")
    return Profile(
        user_id=actor.user_id,
        label=actor.label,
        privilege=actor.privilege.value,
        is_promaster=actor.is_promaster,
        site_name=site.name,
        site_slug=site.slug,
    )
