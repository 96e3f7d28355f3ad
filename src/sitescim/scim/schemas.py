"""The SCIM schema URNs and the one table of the users' attributes.

Every module that writes or reads a URN takes it from here. ``USER_ATTRIBUTES``
says, for each singular string attribute a ``users`` row holds in a column of
its own, its SCIM path, its column, its scim2-models field and the column's
length. The document builders (``scim.user_documents`` and the SQL text of
``scim.sql_documents``), the scim2-models conversion (``scim.mapping``), its
value limits (``mapping.column_limit``), the fast user PATCH and the
filter/sort catalog (``scim.catalog``) all read it, so a new attribute is one
row here. ``MULTI_VALUED`` does the same for the attributes stored as
``user_values`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from scim2_models import (
    Address,
    Email,
    Entitlement,
    Im,
    PhoneNumber,
    Photo,
    Role,
    X509Certificate,
)
from scim2_models.attributes import ComplexAttribute

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SITESCIM_USER_SCHEMA = "urn:sitescim:params:scim:schemas:extension:sitescim:2.0:User"

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

VALUE_KEY_LIMIT = 512
"""The length of ``user_values.value_key``: a longer folded value has no key (NULL)
and filters compare it through ``lower()``."""


class Part(Enum):
    """Where a singular attribute sits in a User resource."""

    CORE = "core"
    NAME = "name"  # a sub-attribute of the core ``name``
    ENTERPRISE = "enterprise"  # an attribute of the Enterprise User extension


@dataclass(frozen=True, slots=True)
class UserAttribute:
    """One singular string attribute of a user, stored in one ``users`` column."""

    name: str  # the SCIM name within its part: "givenName", "department"
    part: Part
    column: str
    field: str  # the scim2-models field: "given_name"
    limit: int  # the column's length; longer values are refused (invalidValue)
    key: str | None = None  # the case-folded, indexed copy, if any
    case_exact: bool = False
    patched_fast: bool = True  # user_patch may set it straight (not a Reference)

    @property
    def path(self) -> str:
        """The dotted path the value limits are kept under: "name.givenName", "title"."""
        return f"name.{self.name}" if self.part is Part.NAME else self.name


USER_NAME = UserAttribute("userName", Part.CORE, "user_name", "user_name", 256, "user_name_key")

USER_ATTRIBUTES: tuple[UserAttribute, ...] = (  # in the order user_from_scim checks them
    USER_NAME,
    UserAttribute("externalId", Part.CORE, "external_id", "external_id", 256, case_exact=True),
    UserAttribute(
        "displayName", Part.CORE, "display_name", "display_name", 256, "display_name_key"
    ),
    UserAttribute("formatted", Part.NAME, "name_formatted", "formatted", 512),
    UserAttribute("familyName", Part.NAME, "name_family", "family_name", 256),
    UserAttribute("givenName", Part.NAME, "name_given", "given_name", 256),
    UserAttribute("middleName", Part.NAME, "name_middle", "middle_name", 256),
    UserAttribute("honorificPrefix", Part.NAME, "name_prefix", "honorific_prefix", 64),
    UserAttribute("honorificSuffix", Part.NAME, "name_suffix", "honorific_suffix", 64),
    UserAttribute("nickName", Part.CORE, "nick_name", "nick_name", 256),
    UserAttribute("profileUrl", Part.CORE, "profile_url", "profile_url", 1024, patched_fast=False),
    UserAttribute("title", Part.CORE, "title", "title", 256),
    UserAttribute("userType", Part.CORE, "user_type", "user_type", 64),
    UserAttribute("preferredLanguage", Part.CORE, "preferred_language", "preferred_language", 64),
    UserAttribute("locale", Part.CORE, "locale", "locale", 64),
    UserAttribute("timezone", Part.CORE, "timezone", "timezone", 64),
    UserAttribute("employeeNumber", Part.ENTERPRISE, "employee_number", "employee_number", 256),
    UserAttribute("costCenter", Part.ENTERPRISE, "cost_center", "cost_center", 256),
    UserAttribute("organization", Part.ENTERPRISE, "organization", "organization", 256),
    UserAttribute("division", Part.ENTERPRISE, "division", "division", 256),
    UserAttribute("department", Part.ENTERPRISE, "department", "department", 256),
)

CORE_ATTRIBUTES = tuple(
    attribute
    for attribute in USER_ATTRIBUTES
    if attribute.part is Part.CORE and attribute is not USER_NAME
)
"""The core attributes other than userName, in the order documents show them."""
NAME_ATTRIBUTES = tuple(attribute for attribute in USER_ATTRIBUTES if attribute.part is Part.NAME)
ENTERPRISE_ATTRIBUTES = tuple(
    attribute for attribute in USER_ATTRIBUTES if attribute.part is Part.ENTERPRISE
)

MANAGER_LIMIT = 256
"""The length of ``users.manager_id`` (the Enterprise ``manager.value``)."""

USER_LIMITS: dict[str, int] = {
    **{attribute.path: attribute.limit for attribute in USER_ATTRIBUTES},
    "manager.value": MANAGER_LIMIT,
}
"""Column limits of the users table by attribute path, checked before the database would
refuse a value."""

GROUP_LIMITS = {"displayName": 256, "externalId": 256}
"""Column limits of the groups table, checked before the database would refuse them."""


@dataclass(frozen=True, slots=True)
class MultiValuedAttribute:
    """How one multi-valued attribute of a user is stored in ``user_values``."""

    field: str  # the scim2-models field
    model: type[ComplexAttribute]
    keyed: bool  # value_key is filled (caseExact false values that filters compare)

    @property
    def has_display(self) -> bool:
        return "display" in self.model.model_fields


MULTI_VALUED: dict[str, MultiValuedAttribute] = {
    "emails": MultiValuedAttribute("emails", Email, keyed=True),
    "phoneNumbers": MultiValuedAttribute("phone_numbers", PhoneNumber, keyed=True),
    "ims": MultiValuedAttribute("ims", Im, keyed=True),
    "photos": MultiValuedAttribute("photos", Photo, keyed=True),
    "addresses": MultiValuedAttribute("addresses", Address, keyed=False),
    "entitlements": MultiValuedAttribute("entitlements", Entitlement, keyed=True),
    "roles": MultiValuedAttribute("roles", Role, keyed=True),
    "x509Certificates": MultiValuedAttribute("x509_certificates", X509Certificate, keyed=False),
}
"""SCIM attribute name -> storage; the names are those of ``user_values.attribute``."""

ADDRESS_KEYS = {
    "formatted": "formatted",
    "street_address": "streetAddress",
    "locality": "locality",
    "region": "region",
    "postal_code": "postalCode",
    "country": "country",
}
"""An address's scim2-models fields and their SCIM names (the keys of ``user_values.extra``)."""
ADDRESS_PARTS = tuple(ADDRESS_KEYS)

VALUE_LIMITS = {"type": 64, "display": 256}
"""Column limits of ``user_values`` for the sub-attributes every value may have."""

MAX_VALUES = 100
"""Values per multi-valued attribute of a user (emails, phoneNumbers, addresses, ...):
far above what a person has, and a bound on what one user costs every later read."""
