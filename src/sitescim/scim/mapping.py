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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from scim2_models import (
    Address,
    Context,
    Email,
    EnterpriseUser,
    Entitlement,
    GroupMembership,
    Im,
    InvalidValueException,
    Manager,
    Meta,
    Name,
    PhoneNumber,
    Photo,
    ResponseParameters,
    Role,
    User,
    X509Certificate,
)
from scim2_models.attributes import ComplexAttribute

from sitescim.db.models import User as UserRow
from sitescim.db.models import UserValue
from sitescim.scim.etags import make_etag as make_etag  # re-exported for its callers
from sitescim.scim.extension import SITESCIM_USER_SCHEMA, SitescimUser, SitescimWritableUser

RESOURCE_TYPE = "User"
VALUE_KEY_MAX = 512

ReadOnlyPrivilegeUser = User[EnterpriseUser | SitescimUser]
"""The User resource of a site where SCIM may not set the privilege (the default)."""

WritablePrivilegeUser = User[EnterpriseUser | SitescimWritableUser]
"""The User resource of a site whose Promasters let SCIM set the privilege."""

ScimUser = User[Any]


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A group a user belongs to, as the read-only ``groups`` attribute shows it."""

    id: str
    display: str | None


@dataclass(frozen=True, slots=True)
class _Multi:
    """How one multi-valued attribute is stored in ``user_values``."""

    field: str
    model: type[ComplexAttribute]
    keyed: bool  # value_key is filled (caseExact false values that filters compare)


# SCIM attribute name -> storage description; the names are those of user_values.attribute.
MULTI_VALUED: dict[str, _Multi] = {
    "emails": _Multi("emails", Email, keyed=True),
    "phoneNumbers": _Multi("phone_numbers", PhoneNumber, keyed=True),
    "ims": _Multi("ims", Im, keyed=True),
    "photos": _Multi("photos", Photo, keyed=True),
    "addresses": _Multi("addresses", Address, keyed=False),
    "entitlements": _Multi("entitlements", Entitlement, keyed=True),
    "roles": _Multi("roles", Role, keyed=True),
    "x509Certificates": _Multi("x509_certificates", X509Certificate, keyed=False),
}
ADDRESS_PARTS = ("formatted", "street_address", "locality", "region", "postal_code", "country")
_ADDRESS_KEYS = {
    "formatted": "formatted",
    "street_address": "streetAddress",
    "locality": "locality",
    "region": "region",
    "postal_code": "postalCode",
    "country": "country",
}

# Column limits of the users table, checked before the database would refuse them.
_LIMITS = {
    "userName": 256,
    "externalId": 256,
    "displayName": 256,
    "name.formatted": 512,
    "name.familyName": 256,
    "name.givenName": 256,
    "name.middleName": 256,
    "name.honorificPrefix": 64,
    "name.honorificSuffix": 64,
    "nickName": 256,
    "profileUrl": 1024,
    "title": 256,
    "userType": 64,
    "preferredLanguage": 64,
    "locale": 64,
    "timezone": 64,
    "employeeNumber": 256,
    "costCenter": 256,
    "organization": 256,
    "division": 256,
    "department": 256,
    "manager.value": 256,
}
_VALUE_LIMITS = {"type": 64, "display": 256}
MAX_VALUES = 100
"""Values per multi-valued attribute of a user (emails, phoneNumbers, addresses, ...):
far above what a person has, and a bound on what one user costs every later read."""


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
    return _LIMITS.get(attribute, 2**31)


def _fit(value: str | None, attribute: str) -> str | None:
    limit = _LIMITS.get(attribute)
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
        fields.update({part: extra.get(_ADDRESS_KEYS[part]) for part in ADDRESS_PARTS})
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

    name_parts = {
        "formatted": user.name_formatted,
        "family_name": user.name_family,
        "given_name": user.name_given,
        "middle_name": user.name_middle,
        "honorific_prefix": user.name_prefix,
        "honorific_suffix": user.name_suffix,
    }
    fields: dict[str, Any] = {
        "id": user.id,
        "external_id": user.external_id,
        "user_name": user.user_name,
        "display_name": user.display_name,
        "nick_name": user.nick_name,
        "profile_url": user.profile_url,
        "title": user.title,
        "user_type": user.user_type,
        "preferred_language": user.preferred_language,
        "locale": user.locale,
        "timezone": user.timezone,
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
        "employee_number": user.employee_number,
        "cost_center": user.cost_center,
        "organization": user.organization,
        "division": user.division,
        "department": user.department,
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


CORE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_NAME_PARTS = (
    ("formatted", "name_formatted"),
    ("familyName", "name_family"),
    ("givenName", "name_given"),
    ("middleName", "name_middle"),
    ("honorificPrefix", "name_prefix"),
    ("honorificSuffix", "name_suffix"),
)
_SINGULAR = (
    ("externalId", "external_id"),
    ("displayName", "display_name"),
    ("nickName", "nick_name"),
    ("profileUrl", "profile_url"),
    ("title", "title"),
    ("userType", "user_type"),
    ("preferredLanguage", "preferred_language"),
    ("locale", "locale"),
    ("timezone", "timezone"),
)
_ENTERPRISE = (
    ("employeeNumber", "employee_number"),
    ("costCenter", "cost_center"),
    ("organization", "organization"),
    ("division", "division"),
    ("department", "department"),
)
_HAS_DISPLAY = {name: "display" in spec.model.model_fields for name, spec in MULTI_VALUED.items()}


def scim_datetime(moment: datetime) -> str:
    """The form pydantic dumps: ISO 8601, ``Z``, microseconds only when there are some."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _value_document(attribute: str, row: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if attribute == "addresses":
        extra = row.extra or {}
        for part in ADDRESS_PARTS:
            key = _ADDRESS_KEYS[part]
            if extra.get(key) is not None:
                entry[key] = extra[key]
    elif row.value is not None:
        entry["value"] = row.value
    if row.display is not None and _HAS_DISPLAY[attribute]:
        entry["display"] = row.display
    if row.type is not None:
        entry["type"] = row.type
    if row.primary is not None:
        entry["primary"] = row.primary
    return entry


def user_document(
    user: Any, values: Iterable[Any], groups: Iterable[Any], base_url: str
) -> dict[str, Any]:
    """The JSON body of a stored user, built straight from its rows.

    Reads are the hot path (GET by id, filters, pages of a hundred), and
    building then dumping scim2-models objects costs about a millisecond a
    user. This gives the same document as
    ``dump_user(user_to_scim(...))`` — a property test holds the two equal —
    for a few tens of microseconds. ``user`` and ``values`` are ``users`` and
    ``user_values`` rows, ORM objects or Core rows alike; ``groups`` have an
    ``id`` and a ``display`` (GroupRef, or the hot reader's records).
    """
    base = base_url.rstrip("/")
    location = f"{base}/Users/{user.id}"
    schemas = [CORE_SCHEMA]
    document: dict[str, Any] = {"schemas": schemas, "id": user.id}
    for key, column in _SINGULAR:
        item = getattr(user, column)
        if item is not None:
            document[key] = item
    document["userName"] = user.user_name
    name = {key: getattr(user, column) for key, column in _NAME_PARTS}
    name = {key: item for key, item in name.items() if item is not None}
    if name:
        document["name"] = name
    document["active"] = user.active
    for row in sorted(values, key=lambda item: (item.attribute, item.position, item.id or 0)):
        entry = _value_document(row.attribute, row)
        if entry:  # scim2-models drops an entry with nothing in it
            document.setdefault(row.attribute, []).append(entry)
    members = [
        {"value": group.id, "$ref": f"{base}/Groups/{group.id}", "display": group.display}
        if group.display is not None
        else {"value": group.id, "$ref": f"{base}/Groups/{group.id}"}
        for group in groups
    ]
    if members:
        document["groups"] = members
    enterprise = {key: getattr(user, column) for key, column in _ENTERPRISE}
    enterprise = {key: item for key, item in enterprise.items() if item is not None}
    if user.manager_id:
        manager = {"value": user.manager_id, "$ref": f"{base}/Users/{user.manager_id}"}
        if user.manager_display_name is not None:
            manager["displayName"] = user.manager_display_name
        enterprise["manager"] = manager
    if enterprise:
        schemas.append(ENTERPRISE_SCHEMA)
        document[ENTERPRISE_SCHEMA] = enterprise
    schemas.append(SITESCIM_USER_SCHEMA)
    document[SITESCIM_USER_SCHEMA] = {"privilege": user.privilege}
    document["meta"] = {
        "resourceType": RESOURCE_TYPE,
        "created": scim_datetime(user.created_at),
        "lastModified": scim_datetime(user.updated_at),
        "location": location,
        "version": make_etag(user.id, user.version),
    }
    return document


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


def _value_row(attribute: str, spec: _Multi, entry: Any, position: int, user: UserRow) -> UserValue:
    kind = _text(getattr(entry, "type", None))
    display = _text(getattr(entry, "display", None))
    for sub, item in (("type", kind), ("display", display)):
        if item is not None and len(item) > _VALUE_LIMITS[sub]:
            raise InvalidValueException(
                detail=f"'{attribute}.{sub}' is longer than {_VALUE_LIMITS[sub]} characters"
            )
    value: str | None = None
    extra: dict[str, Any] = {}
    if spec.model is Address:
        extra = {
            _ADDRESS_KEYS[part]: getattr(entry, part)
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
        value_key=key if key is None or len(key) <= VALUE_KEY_MAX else None,
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
    user.user_name = _fit(resource.user_name, "userName") or ""
    user.user_name_key = user.user_name.casefold()
    user.external_id = _fit(resource.external_id, "externalId")
    user.display_name = _fit(resource.display_name, "displayName")
    user.display_name_key = _fold(user.display_name)
    name = resource.name
    user.name_formatted = _fit(name.formatted if name else None, "name.formatted")
    user.name_family = _fit(name.family_name if name else None, "name.familyName")
    user.name_given = _fit(name.given_name if name else None, "name.givenName")
    user.name_middle = _fit(name.middle_name if name else None, "name.middleName")
    user.name_prefix = _fit(name.honorific_prefix if name else None, "name.honorificPrefix")
    user.name_suffix = _fit(name.honorific_suffix if name else None, "name.honorificSuffix")
    user.nick_name = _fit(resource.nick_name, "nickName")
    user.profile_url = _fit(_text(resource.profile_url), "profileUrl")
    user.title = _fit(resource.title, "title")
    user.user_type = _fit(resource.user_type, "userType")
    user.preferred_language = _fit(resource.preferred_language, "preferredLanguage")
    user.locale = _fit(resource.locale, "locale")
    user.timezone = _fit(resource.timezone, "timezone")
    if resource.active is not None:
        user.active = resource.active
    # The row's e-mail is the local account's address (its label, where it signs in):
    # SCIM's primary address updates it, an absent one leaves it.
    user.email = _primary_email(resource) or user.email

    enterprise: EnterpriseUser | None = resource[EnterpriseUser]
    setters: list[tuple[str, str, Callable[[EnterpriseUser], str | None]]] = [
        ("employee_number", "employeeNumber", lambda e: e.employee_number),
        ("cost_center", "costCenter", lambda e: e.cost_center),
        ("organization", "organization", lambda e: e.organization),
        ("division", "division", lambda e: e.division),
        ("department", "department", lambda e: e.department),
    ]
    for column, attribute, read in setters:
        setattr(user, column, _fit(read(enterprise) if enterprise else None, attribute))
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
