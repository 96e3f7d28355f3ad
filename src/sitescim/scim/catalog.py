"""The filter and sort catalog: which column or subquery holds each SCIM attribute.

``USER_CATALOG`` and ``GROUP_CATALOG`` map every attribute of the Users and
Groups schemas (keyed by lower-case schema URN and name) to the SQL that holds
it, with its type, whether it is case-exact and which indexed key serves it.
``scim.filtering`` compiles filters over it and ``scim.listing`` sorts by it;
the users' singular attributes come from ``scim.schemas.USER_ATTRIBUTES``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import aliased

from sitescim.db.dialect import Expr, compare_equal
from sitescim.db.models import (
    USER_NAME_TRIGRAM_ROWS,
    USER_NAME_TRIGRAMS,
    USER_VALUE_TRIGRAMS,
    Group,
    Membership,
    User,
    UserValue,
)
from sitescim.scim.attributes import (
    AttributeType,
    Complex,
    MultiValued,
    ResourceCatalog,
    Rows,
    Scalar,
    Trigrams,
    Unfilterable,
)
from sitescim.scim.schemas import (
    CORE_ATTRIBUTES,
    ENTERPRISE_ATTRIBUTES,
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    MULTI_VALUED,
    NAME_ATTRIBUTES,
    SITESCIM_USER_SCHEMA,
    USER_SCHEMA,
    VALUE_KEY_LIMIT,
    UserAttribute,
)


def _string(column: Expr, *, key: Expr | None = None, required: bool = False) -> Scalar:
    return Scalar(AttributeType.STRING, column, key=key, required=required)


def _exact(column: Expr, *, required: bool = False) -> Scalar:
    return Scalar(AttributeType.STRING, column, case_exact=True, required=required)


def _stored(attribute: UserAttribute) -> Scalar:
    """A singular string attribute of the users table (scim.schemas.USER_ATTRIBUTES)."""
    column = getattr(User, attribute.column)
    if attribute.case_exact:
        return _exact(column)
    return _string(column, key=None if attribute.key is None else getattr(User, attribute.key))


_VALUE_ORDER: tuple[Expr, ...] = (
    func.coalesce(UserValue.primary, False).desc(),
    UserValue.position,
    UserValue.id,
)
# "primary" is stored as sent: true, false, or NULL when the client sent none.
_PRIMARY = Scalar(AttributeType.BOOLEAN, UserValue.primary)
_VALUE_TRIGRAMS = Trigrams(
    rows=lambda query: UserValue.id.in_(
        select(USER_VALUE_TRIGRAMS.c.rowid).where(USER_VALUE_TRIGRAMS.c.folded_value.match(query))
    )
)
_VALUE = Scalar(
    AttributeType.STRING,
    UserValue.value,
    key=UserValue.value_key,
    key_limit=VALUE_KEY_LIMIT,
    trigrams=_VALUE_TRIGRAMS,
)
_NO_REF = Unfilterable("$ref is derived from the request's URL and cannot be filtered")


def _user_values(attribute: str) -> Rows:
    def rows(site_id: str, *, narrowed: bool = False) -> Select[Any]:
        return select(UserValue.user_id).where(
            compare_equal(UserValue.site_id, site_id, narrowed=narrowed),
            compare_equal(UserValue.attribute, attribute, narrowed=narrowed),
        )

    return rows


def _plural(attribute: str, *, value: Scalar | None = None) -> MultiValued:
    """emails, phoneNumbers, ims, photos, entitlements, roles, x509Certificates."""
    return MultiValued(
        rows=_user_values(attribute),
        owner=UserValue.user_id,
        ordering=_VALUE_ORDER,
        subs={
            "value": value or _VALUE,
            "display": _string(UserValue.display),
            "type": _string(UserValue.type),
            "primary": _PRIMARY,
        },
    )


def _address_part(name: str) -> Scalar:
    return _string(UserValue.extra[name].as_string())


_ADDRESSES = MultiValued(
    rows=_user_values("addresses"),
    owner=UserValue.user_id,
    ordering=_VALUE_ORDER,
    subs={
        "formatted": _address_part("formatted"),
        "streetaddress": _address_part("streetAddress"),
        "locality": _address_part("locality"),
        "region": _address_part("region"),
        "postalcode": _address_part("postalCode"),
        "country": _address_part("country"),
        "type": _string(UserValue.type),
        "primary": _PRIMARY,
    },
)


def _values_of(attribute: str) -> MultiValued:
    """A multi-valued attribute stored in ``user_values`` (scim.schemas.MULTI_VALUED)."""
    if attribute == "addresses":
        return _ADDRESSES
    if attribute == "x509Certificates":
        return _plural(
            attribute, value=Scalar(AttributeType.BINARY, UserValue.value, case_exact=True)
        )
    return _plural(attribute)


_GroupOfUser = aliased(Group, name="group_of_user")


def _groups_of_user(site_id: str, *, narrowed: bool = False) -> Select[Any]:
    return (
        select(Membership.user_id)
        .join(_GroupOfUser, _GroupOfUser.id == Membership.group_id)
        .where(Membership.site_id == site_id, Membership.user_id.is_not(None))
    )


_USER_GROUPS = MultiValued(
    rows=_groups_of_user,
    owner=Membership.user_id,
    ordering=(Membership.id,),
    subs={
        "value": _exact(Membership.group_id, required=True),
        "display": _string(_GroupOfUser.display_name, key=_GroupOfUser.display_name_key),
        # Memberships are stored direct; indirect ones are not computed.
        "type": _string(literal("direct"), required=True),
        "$ref": _NO_REF,
    },
)


def _meta(resource_type: str, table: type[User] | type[Group]) -> Complex:
    return Complex(
        always_present=True,
        subs={
            "resourcetype": _exact(literal(resource_type), required=True),
            "created": Scalar(AttributeType.DATETIME, table.created_at, required=True),
            "lastmodified": Scalar(AttributeType.DATETIME, table.updated_at, required=True),
            "location": Unfilterable("meta.location is derived from the request's URL"),
            "version": Unfilterable("meta.version is not filterable; use If-None-Match"),
        },
    )


_USER_NAME_TRIGRAMS = Trigrams(
    rows=lambda query: User.id.in_(
        select(USER_NAME_TRIGRAM_ROWS.c.user_id).where(
            USER_NAME_TRIGRAM_ROWS.c.id.in_(
                select(USER_NAME_TRIGRAMS.c.rowid).where(
                    USER_NAME_TRIGRAMS.c.user_name_key.match(query)
                )
            )
        )
    ),
    # (site_id, user_name_key) is unique, so indexed: GLOB 'prefix*' ranges over it.
    prefix_indexed=True,
)

USER_CATALOG = ResourceCatalog(
    name="User",
    core_schema=USER_SCHEMA,
    site_column=User.site_id,
    id_column=User.id,
    schemas={
        USER_SCHEMA.lower(): {
            "id": _exact(User.id, required=True),
            "meta": _meta("User", User),
            "username": Scalar(
                AttributeType.STRING,
                User.user_name,
                key=User.user_name_key,
                required=True,
                trigrams=_USER_NAME_TRIGRAMS,
            ),
            "name": Complex(subs={item.name.lower(): _stored(item) for item in NAME_ATTRIBUTES}),
            **{item.name.lower(): _stored(item) for item in CORE_ATTRIBUTES},
            "active": Scalar(AttributeType.BOOLEAN, User.active, required=True),
            "password": Unfilterable("password is write-only and never compared in a filter"),
            **{name.lower(): _values_of(name) for name in MULTI_VALUED},
            "groups": _USER_GROUPS,
        },
        ENTERPRISE_USER_SCHEMA.lower(): {
            **{item.name.lower(): _stored(item) for item in ENTERPRISE_ATTRIBUTES},
            "manager": Complex(
                subs={
                    "value": _exact(User.manager_id),
                    "displayname": _string(User.manager_display_name),
                    "$ref": _NO_REF,
                }
            ),
        },
        SITESCIM_USER_SCHEMA.lower(): {
            "privilege": _string(User.privilege, required=True),
        },
    },
)


_MemberUser = aliased(User, name="member_user")
_MemberGroup = aliased(Group, name="member_group")


def members_of_groups(site_id: str, *, narrowed: bool = False) -> Select[Any]:
    return (
        select(Membership.group_id)
        .outerjoin(_MemberUser, _MemberUser.id == Membership.user_id)
        .outerjoin(_MemberGroup, _MemberGroup.id == Membership.member_group_id)
        .where(Membership.site_id == site_id)
    )


GROUP_CATALOG = ResourceCatalog(
    name="Group",
    core_schema=GROUP_SCHEMA,
    site_column=Group.site_id,
    id_column=Group.id,
    schemas={
        GROUP_SCHEMA.lower(): {
            "id": _exact(Group.id, required=True),
            "externalid": _exact(Group.external_id),
            "meta": _meta("Group", Group),
            "displayname": _string(Group.display_name, key=Group.display_name_key, required=True),
            "members": MultiValued(
                rows=members_of_groups,
                owner=Membership.group_id,
                ordering=(Membership.id,),
                subs={
                    "value": Scalar(
                        AttributeType.STRING,
                        func.coalesce(Membership.user_id, Membership.member_group_id),
                        case_exact=True,
                        required=True,
                        either=(Membership.user_id, Membership.member_group_id),
                    ),
                    "type": _string(
                        case((Membership.user_id.is_not(None), "User"), else_="Group"),
                        required=True,
                    ),
                    # As repositories.list_group_members shows it.
                    "display": _string(
                        func.coalesce(
                            _MemberUser.display_name,
                            _MemberUser.user_name,
                            _MemberGroup.display_name,
                        )
                    ),
                    "$ref": _NO_REF,
                },
            ),
        },
    },
)
