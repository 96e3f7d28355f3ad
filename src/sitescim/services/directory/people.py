"""The People page: the site's users, searched by name or e-mail prefix, and one person."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from sitescim.db.models import User
from sitescim.db.repositories import directory as directory_repo
from sitescim.db.repositories import users as users_repo
from sitescim.domain.errors import NotFoundError
from sitescim.domain.privileges import Actor, ensure_promaster
from sitescim.scim.cursors import Position
from sitescim.services.directory.keyset import PAGE_SIZE, read_search, read_window
from sitescim.services.directory.views import PeoplePage, PersonDetail, PersonRow, Ref, Value

GROUPS_SHOWN = 3
COUNT_CAP = 1000  # a search counts no further: "more than 1,000" is answer enough


def _person_name(user: User) -> str:
    if user.name_formatted:
        return user.name_formatted
    parts = [part for part in (user.name_given, user.name_family) if part]
    return " ".join(parts) or user.display_name or ""


def _first_email(values: Sequence[directory_repo.ContactValue], fallback: str | None) -> str | None:
    emails = [v for v in values if v.attribute == "emails"]
    primary = [v for v in emails if v.primary]
    chosen = (primary or emails)[:1]
    return chosen[0].value if chosen else fallback


def list_people(
    session: Session,
    actor: Actor,
    *,
    cursor_key: bytes,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> PeoplePage:
    ensure_promaster(actor, "the site's people")
    text = read_search(search)
    prefix = text.casefold() or None
    counted = directory_repo.count_people(session, actor.site_id, prefix=prefix, cap=COUNT_CAP)

    def fetch(after_at: Position | None, before_at: Position | None, count: int) -> Sequence[User]:
        return directory_repo.list_people(
            session,
            actor.site_id,
            prefix=prefix,
            after=after_at.key if after_at else None,
            before=before_at.key if before_at else None,
            limit=count,
            many_emails_match=counted.many_emails_match,
        )

    window = read_window(
        fetch,
        lambda user: (user.user_name_key, user.id),
        list_name="people",
        cursor_key=cursor_key,
        after=after,
        before=before,
        limit=limit,
    )
    ids = [user.id for user in window.rows]
    values: dict[str, list[directory_repo.ContactValue]] = defaultdict(list)
    for value in directory_repo.list_contact_values(session, actor.site_id, ids, ["emails"]):
        values[value.user_id].append(value)
    groups: dict[str, list[str]] = defaultdict(list)
    for user_id, _group_id, name in users_repo.list_user_groups(session, actor.site_id, ids):
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
        for user in window.rows
    ]
    return PeoplePage(
        people=people,
        total=min(counted.total, COUNT_CAP),
        more_than_total=counted.total > COUNT_CAP,
        search=text,
        next_after=window.next_after,
        prev_before=window.prev_before,
    )


def get_person(session: Session, actor: Actor, user_id: str) -> PersonDetail:
    ensure_promaster(actor, "the site's people")
    user = users_repo.get_user(session, actor.site_id, user_id)
    if user is None:
        raise NotFoundError("No such person in this site.")
    values = directory_repo.list_contact_values(
        session, actor.site_id, [user.id], ["emails", "phoneNumbers"]
    )

    def of(attribute: str) -> tuple[Value, ...]:
        return tuple(
            Value(value=v.value, type=v.type, primary=v.primary)
            for v in values
            if v.attribute == attribute
        )

    emails = of("emails")
    if not emails and user.email:
        emails = (Value(value=user.email, type=None, primary=True),)
    groups = users_repo.list_user_groups(session, actor.site_id, [user.id])
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
