"""The one place where user rows and SCIM User resources meet (habit 3).

``user_to_scim`` builds a scim2-models ``User`` (with the Enterprise and
sitescim extensions) from a ``users`` row, its ``user_values`` rows and its
groups; ``user_from_scim`` writes a validated resource back onto a row and
returns the value rows that now belong to it. Whether an attribute may be
written, and whether it is returned, is the schema's business: callers
validate and dump with a scim2-models ``Context``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from scim2_models import (
    Address,
    Context,
    EnterpriseUser,
    GroupMembership,
    InvalidValueException,
    Manager,
    Meta,
    Name,
    ResponseParameters,
    User,
    X509Certificate,
)
from scim2_models.attributes import ComplexAttribute

from sitescim.db.listings import GroupRef
from sitescim.db.models import User as UserRow
from sitescim.db.models import UserValue
from sitescim.scim.etags import make_etag
from sitescim.scim.extension import SitescimUser, SitescimWritableUser
from sitescim.scim.schemas import (
    ADDRESS_KEYS,
    ADDRESS_PARTS,
    CORE_ATTRIBUTES,
    ENTERPRISE_ATTRIBUTES,
    MAX_VALUES,
    MULTI_VALUED,
    NAME_ATTRIBUTES,
    USER_ATTRIBUTES,
    USER_LIMITS,
    VALUE_KEY_LIMIT,
    VALUE_LIMITS,
    MultiValuedAttribute,
    Part,
)

RESOURCE_TYPE = "User"

ReadOnlyPrivilegeUser = User[EnterpriseUser | SitescimUser]
"""The User resource of a site where SCIM may not set the privilege (the default)."""

WritablePrivilegeUser = User[EnterpriseUser | SitescimWritableUser]
"""The User resource of a site whose Promasters let SCIM set the privilege."""

ScimUser = User[Any]


def user_model(*, privilege_writable: bool) -> type[ScimUser]:
    """The resource class for a site: its schema says whether privilege is writable."""
    return WritablePrivilegeUser if privilege_writable else ReadOnlyPrivilegeUser


def privilege_extension(model: type[ScimUser]) -> type[SitescimUser | SitescimWritableUser]:
    return SitescimWritableUser if model is WritablePrivilegeUser else SitescimUser


def user_location(base_url: str, user_id: str) -> str:
    return f"{base_url.rstrip('/')}/Users/{user_id}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def column_limit(attribute: str) -> int:
    """The longest value the users column of a singular attribute holds."""
    return USER_LIMITS.get(attribute, 2**31)


def _fit(value: str | None, attribute: str) -> str | None:
    limit = USER_LIMITS.get(attribute)
    if value is not None and limit is not None and len(value) > limit:
        raise InvalidValueException(detail=f"'{attribute}' is longer than {limit} characters")
    return value


def _fold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


def _value_entry(row: UserValue, model: type[ComplexAttribute]) -> ComplexAttribute:
    fields: dict[str, Any] = {"type": row.type, "primary": row.primary}
    if "display" in model.model_fields:
        fields["display"] = row.display
    if model is Address:
        extra = row.extra or {}
        fields.update({part: extra.get(ADDRESS_KEYS[part]) for part in ADDRESS_PARTS})
    else:
        fields["value"] = row.value
    return model(**{key: item for key, item in fields.items() if item is not None})


def user_to_scim(
    user: UserRow,
    values: Iterable[UserValue],
    groups: Iterable[GroupRef],
    base_url: str,
    *,
    model: type[ScimUser] = ReadOnlyPrivilegeUser,
) -> ScimUser:
    """The SCIM resource of a stored user, with ``meta`` filled from the row."""
    base = base_url.rstrip("/")
    by_attribute: dict[str, list[UserValue]] = {}
    for row in sorted(values, key=lambda item: (item.attribute, item.position, item.id or 0)):
        by_attribute.setdefault(row.attribute, []).append(row)

    name_parts = {attribute.field: getattr(user, attribute.column) for attribute in NAME_ATTRIBUTES}
    fields: dict[str, Any] = {
        "id": user.id,
        "user_name": user.user_name,
        **{attribute.field: getattr(user, attribute.column) for attribute in CORE_ATTRIBUTES},
        "active": user.active,
    }
    if any(part is not None for part in name_parts.values()):
        fields["name"] = Name(**{k: v for k, v in name_parts.items() if v is not None})
    for attribute, spec in MULTI_VALUED.items():
        rows = by_attribute.get(attribute)
        if rows:
            fields[spec.field] = [_value_entry(row, spec.model) for row in rows]
    members = [
        GroupMembership(value=group.id, ref=f"{base}/Groups/{group.id}", display=group.display)
        for group in groups
    ]
    if members:
        fields["groups"] = members
    fields["meta"] = Meta(
        resource_type=RESOURCE_TYPE,
        created=user.created_at,
        last_modified=user.updated_at,
        location=user_location(base, user.id),
        version=make_etag(user.id, user.version),
    )
    # Stored values were validated when written: no second validation on every read.
    kept = {key: item for key, item in fields.items() if item is not None}
    resource = model.model_construct(_fields_set=set(kept), **kept)

    enterprise = {
        attribute.field: getattr(user, attribute.column) for attribute in ENTERPRISE_ATTRIBUTES
    }
    manager = None
    if user.manager_id:
        manager = Manager(
            value=user.manager_id,
            ref=user_location(base, user.manager_id),
            display_name=user.manager_display_name,
        )
    if manager is not None or any(item is not None for item in enterprise.values()):
        resource[EnterpriseUser] = EnterpriseUser(
            manager=manager, **{k: v for k, v in enterprise.items() if v is not None}
        )
    extension = privilege_extension(model)
    resource[extension] = extension(privilege=user.privilege)
    return resource


def requested_privilege(resource: ScimUser) -> str | None:
    """The privilege a request asks for, if the resource's schema lets it ask at all."""
    extension = privilege_extension(type(resource))
    if extension is SitescimUser:
        return None
    stored = resource[extension]
    return None if stored is None else stored.privilege


def _value_rows(resource: ScimUser, user: UserRow) -> list[UserValue]:
    rows: list[UserValue] = []
    for attribute, spec in MULTI_VALUED.items():
        entries = getattr(resource, spec.field) or []
        if len(entries) > MAX_VALUES:
            raise InvalidValueException(
                detail=f"'{attribute}' holds {len(entries)} values; a user may have at most "
                f"{MAX_VALUES}."
            )
        for position, entry in enumerate(entries):
            rows.append(_value_row(attribute, spec, entry, position, user))
    return rows


def _value_row(
    attribute: str,
    spec: MultiValuedAttribute,
    entry: Any,
    position: int,
    user: UserRow,
) -> UserValue:
    kind = _text(getattr(entry, "type", None))
    display = _text(getattr(entry, "display", None))
    for sub, item in (("type", kind), ("display", display)):
        if item is not None and len(item) > VALUE_LIMITS[sub]:
            raise InvalidValueException(
                detail=f"'{attribute}.{sub}' is longer than {VALUE_LIMITS[sub]} characters"
            )
    value: str | None = None
    extra: dict[str, Any] = {}
    if spec.model is Address:
        extra = {
            ADDRESS_KEYS[part]: getattr(entry, part)
            for part in ADDRESS_PARTS
            if getattr(entry, part) is not None
        }
    elif spec.model is X509Certificate and entry.value is not None:
        value = base64.b64encode(entry.value).decode("ascii")
    else:
        value = _text(entry.value)
    key = _fold(value) if spec.keyed else None
    return UserValue(
        user_id=user.id,
        site_id=user.site_id,
        attribute=attribute,
        position=position,
        value=value,
        value_key=key if key is None or len(key) <= VALUE_KEY_LIMIT else None,
        type=kind,
        primary=getattr(entry, "primary", None),
        display=display,
        extra=extra,
    )


def _primary_email(resource: ScimUser) -> str | None:
    emails = resource.emails or []
    chosen = next((email for email in emails if email.primary), emails[0] if emails else None)
    value = None if chosen is None else _text(chosen.value)
    return value if value is None or len(value) <= 320 else None


def user_from_scim(resource: ScimUser, user: UserRow) -> list[UserValue]:
    """Write a validated resource's attributes onto ``user``; return its value rows.

    Absent attributes are cleared (a PUT replaces the whole resource, and a
    PATCH has already been applied to a resource loaded from the row).
    ``active`` is kept when absent, so a replacement never flips it by
    omission. Password and privilege are the service's: they have rules.
    """
    if not resource.user_name:
        raise InvalidValueException(detail="'userName' is required")
    enterprise: EnterpriseUser | None = resource[EnterpriseUser]
    sources = {Part.CORE: resource, Part.NAME: resource.name, Part.ENTERPRISE: enterprise}
    for attribute in USER_ATTRIBUTES:
        value = _fit(_text(getattr(sources[attribute.part], attribute.field, None)), attribute.path)
        setattr(user, attribute.column, value)
        if attribute.key is not None:
            setattr(user, attribute.key, _fold(value))
    if resource.active is not None:
        user.active = resource.active
    # The row's e-mail is the local account's address (its label, where it signs in):
    # SCIM's primary address updates it, an absent one leaves it.
    user.email = _primary_email(resource) or user.email
    manager = enterprise.manager if enterprise else None
    manager_id = _fit(manager.value if manager else None, "manager.value")
    if manager_id != user.manager_id:
        user.manager_display_name = None
    user.manager_id = manager_id
    return _value_rows(resource, user)


def dump_user(
    resource: ScimUser,
    *,
    context: Context = Context.RESOURCE_QUERY_RESPONSE,
    attributes: str | Sequence[str] | None = None,
    excluded_attributes: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """The JSON body of a resource; ``returned`` rules and selections come from the schema."""
    parameters = None
    if attributes or excluded_attributes:
        parameters = ResponseParameters[type(resource)].model_validate(  # type: ignore[misc]
            {"attributes": attributes or None, "excludedAttributes": excluded_attributes or None}
        )
    dumped: dict[str, Any] = resource.model_dump(scim_ctx=context, response_parameters=parameters)
    return dumped


def narrow_document(
    document: dict[str, Any],
    *,
    context: Context = Context.RESOURCE_QUERY_RESPONSE,
    attributes: str | Sequence[str] | None = None,
    excluded_attributes: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """A user document cut to ``attributes``/``excludedAttributes`` (RFC 7644 §3.9).

    Identity providers rarely ask for a selection, so this goes through
    scim2-models, whose schema knows what is always, never or by default returned.
    """
    if not attributes and not excluded_attributes:
        return document
    resource = ReadOnlyPrivilegeUser.model_validate(document)
    return dump_user(
        resource, context=context, attributes=attributes, excluded_attributes=excluded_attributes
    )
