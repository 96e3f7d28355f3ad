"""Identity-provider quirks, rewritten into RFC 7643/7644 form in one place.

Real clients depart from the RFCs in a few documented ways. Every SCIM request
body passes through :func:`normalise` before anything validates it (the web
layer calls it where it reads the body), so handlers, services and the PATCH
engines only ever see RFC-shaped requests:

==========================================  ============  ===================================
quirk                                       sent by       becomes
==========================================  ============  ===================================
``"op": "Replace"`` (``Add``, ``Remove``)   Entra ID      ``"op": "replace"``
``"active": "False"`` (any case, any        Entra ID      ``"active": false``
boolean attribute, PATCH values too)
PATCH without ``path`` whose value has      Entra ID      one operation per key, with the key
attribute paths as keys (``name.givenName``,              as its ``path``
``emails[type eq "work"].value``,
``urn:…:enterprise:2.0:User:department``)
``remove`` of ``members`` (or another       Entra ID      ``members[value eq "a" or …]``: only
multi-valued attribute) that names the                    those entries, never all of them
entries in ``value``
``manager`` as a plain id, a one-item       Entra ID      ``{"value": id, "$ref": url}``;
list, or without ``$ref``; ``""`` to clear                an empty one removes the manager
``schemas`` URNs in another case            generic       the declared spelling
``schemas`` naming an unknown URN that no   Entra ID      dropped
attribute uses (Entra's ADSCIM Group URN)
attribute paths as keys of a POST/PUT body  generic       nested attributes
==========================================  ============  ===================================

One quirk depends on the stored resource, so it cannot be rewritten here: an
``add`` or ``replace`` of ``emails[type eq "work"].value`` when the user has no
work address yet. :func:`request_policy` gives the scim2-models policy that
creates the described entry; the web layer makes it the request's ambient
policy, which the PATCH engines validate and apply under.

Strict RFC mode (``SITESCIM_SCIM_STRICT=true``) turns all of this off: nothing
is rewritten, and each quirk gets the error the RFCs give it (400
``invalidValue``, or ``noTarget`` for the unmatched filter). Attribute names
and URN prefixes are case-insensitive in both modes, because RFC 7643 §2.1 and
RFC 7644 §3.10 say so; that is not a quirk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    InvalidValueException,
    ScimPolicy,
)

from sitescim.scim.bodies import find_key, open_child, put_path, read_entry_value
from sitescim.scim.paths import parse_path, split_urn
from sitescim.scim.schemas import ENTERPRISE_USER_SCHEMA
from sitescim.scim.shapes import GROUP_SHAPE, KNOWN_URNS, USER_SHAPE, ResourceShape, SchemaShape

LENIENT_POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
STRICT_POLICY = ScimPolicy()

_OPS = ("add", "remove", "replace")


def request_policy(*, strict: bool) -> ScimPolicy:
    """The scim2-models policy a request is validated and patched under."""
    return STRICT_POLICY if strict else LENIENT_POLICY


def normalise(
    body: dict[str, Any], *, method: str, path: str, base_url: str, strict: bool = False
) -> dict[str, Any]:
    """The body in RFC form (rewritten in place), or, in strict mode, the RFC's error.

    ``path`` is the request path below the SCIM base (``/Users/42``): it says
    which schema the body follows. ``base_url`` builds the ``$ref`` a manager
    sent without one needs.
    """
    return _Normaliser(strict=strict, base_url=base_url.rstrip("/")).body(body, method, path)


def _target(path: str) -> tuple[ResourceShape | None, str]:
    """The resource type of a request path and what the path addresses there."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return None, ""
    collection = parts[0].casefold()
    rest = parts[1] if len(parts) > 1 else ""
    if collection == "users":
        return USER_SHAPE, rest
    if collection == "groups":
        return GROUP_SHAPE, rest
    return None, collection


@dataclass(frozen=True, slots=True)
class _PathParts:
    urn: str | None
    attribute: str  # casefolded; "" when the path is an extension URN itself
    sub: str | None
    filtered: bool


class _Normaliser:
    def __init__(self, *, strict: bool, base_url: str) -> None:
        self.strict = strict
        self.base_url = base_url

    def quirk(self, detail: str) -> None:
        """In strict mode a quirk is the client's error: 400 invalidValue (RFC 7644 §3.12)."""
        if self.strict:
            raise InvalidValueException(detail=detail)

    # -- whole bodies ------------------------------------------------------------

    def body(self, body: dict[str, Any], method: str, path: str) -> dict[str, Any]:
        shape, rest = _target(path)
        self.schemas(body, shape)
        if shape is None:
            if rest == "bulk":
                self.bulk(body)
            return body
        if rest.casefold() == ".search":
            return body
        if method.upper() == "PATCH":
            self.patch(body, shape)
        elif method.upper() in ("POST", "PUT"):
            self.resource(body, shape)
        return body

    def bulk(self, body: dict[str, Any]) -> None:
        """Each operation's data is a body of its own (RFC 7644 §3.7)."""
        operations = body.get(find_key(body, "Operations") or "Operations")
        for operation in operations if isinstance(operations, list) else []:
            if not isinstance(operation, dict):
                continue
            data = operation.get(find_key(operation, "data") or "data")
            method = operation.get(find_key(operation, "method") or "method")
            path = operation.get(find_key(operation, "path") or "path")
            if isinstance(data, dict) and isinstance(method, str) and isinstance(path, str):
                self.body(data, method, path)

    def schemas(self, body: dict[str, Any], shape: ResourceShape | None) -> None:
        """Known URNs in their declared spelling; unknown ones no attribute uses dropped."""
        key = find_key(body, "schemas")
        listed = body.get(key) if key else None
        if not isinstance(listed, list):
            return
        kept: list[Any] = []
        for urn in listed:
            if not isinstance(urn, str):
                kept.append(urn)
                continue
            known = KNOWN_URNS.get(urn.casefold())
            if known is not None and known != urn:
                self.quirk(f"schemas lists {urn!r}; the schema URI is {known!r}.")
                urn = known
            elif known is None and shape is not None and find_key(body, urn) is None:
                self.quirk(f"schemas lists {urn!r}, a schema this service does not define.")
                continue
            if urn not in kept:
                kept.append(urn)
        body[key or "schemas"] = kept

    def resource(self, body: dict[str, Any], shape: ResourceShape) -> None:
        """A POST or PUT body: attribute paths nested, then values fixed."""
        if not self.strict:
            for key in [key for key in body if key[:4].lower() == "urn:"]:
                declared = shape.extensions.get(key.casefold(), (key, None))[0]
                if declared != key and declared not in body:
                    body[declared] = body.pop(key)
        for key in list(body):
            located = self.path_key(key, shape)
            if located is None or "[" in located[1]:
                continue  # a filter cannot be nested: scim2-models refuses the key
            self.quirk(f"{key!r} is an attribute path, not an attribute name.")
            urn, rest = located
            holder = body if urn is None or urn == shape.core_urn else open_child(body, urn)
            put_path(holder, rest.split("."), body.pop(key))
        self.values(body, shape)

    def values(self, data: dict[str, Any], shape: ResourceShape) -> None:
        """Booleans and the manager of attributes given as an object (a body, a PATCH value)."""
        self.booleans(data, shape.core)
        for key in [key for key in data if key[:4].lower() == "urn:"]:
            urn, attributes = shape.extensions.get(key.casefold(), (key, None))
            extension = data[key]
            if attributes is not None and isinstance(extension, dict):
                self.booleans(extension, attributes)
                if urn == ENTERPRISE_USER_SCHEMA:
                    self.manager_in(extension)

    # -- PATCH -----------------------------------------------------------------

    def patch(self, body: dict[str, Any], shape: ResourceShape) -> None:
        key = find_key(body, "Operations")
        operations = body.get(key) if key else None
        if not isinstance(operations, list):
            return
        rewritten: list[Any] = []
        for operation in operations:
            if not isinstance(operation, dict):
                rewritten.append(operation)
                continue
            self.op_name(operation)
            for part in self.split(operation, shape):
                self.operation(part, shape)
                rewritten.append(part)
        body[key or "Operations"] = rewritten

    def op_name(self, operation: dict[str, Any]) -> None:
        key = find_key(operation, "op")
        name = operation.get(key) if key else None
        if isinstance(name, str) and name not in _OPS and name.lower() in _OPS:
            self.quirk(f"'op' is {name!r}; operations are 'add', 'remove' or 'replace'.")
            operation[key or "op"] = name.lower()

    def split(self, operation: dict[str, Any], shape: ResourceShape) -> list[dict[str, Any]]:
        """A pathless add/replace whose value has attribute paths as keys: one op per path."""
        value = operation.get(find_key(operation, "value") or "value")
        if find_key(operation, "path") is not None or not isinstance(value, dict):
            return [operation]
        paths = [key for key in value if self.path_key(key, shape) is not None]
        if not paths:
            return [operation]
        self.quirk(
            f"{paths[0]!r} is an attribute path; an operation without 'path' takes "
            "attribute names (RFC 7644 §3.5.2)."
        )
        op = operation.get(find_key(operation, "op") or "op")
        plain = {key: item for key, item in value.items() if key not in paths}
        parts = [{"op": op, "value": plain}] if plain else []
        parts += [{"op": op, "path": key, "value": value[key]} for key in paths]
        return parts

    def operation(self, operation: dict[str, Any], shape: ResourceShape) -> None:
        op = operation.get(find_key(operation, "op") or "op")
        path_key = find_key(operation, "path")
        value_key = find_key(operation, "value") or "value"
        path = operation.get(path_key) if path_key else None
        if not isinstance(path, str):
            value = operation.get(value_key)
            if isinstance(value, dict):
                self.values(value, shape)
            return
        parts = self.parse(path, shape)
        if op == "remove":
            self.removal(operation, path_key or "path", value_key, path, parts, shape)
            return
        if value_key not in operation:
            return
        value = operation[value_key]
        if (
            parts.urn == ENTERPRISE_USER_SCHEMA
            and parts.attribute == "manager"
            and parts.sub is None
        ):
            if value is None or value == "" or value == []:
                self.quirk("A manager is removed with 'remove', not set to an empty value.")
                operation.clear()
                operation.update({"op": "remove", "path": path})
                return
            operation[value_key] = self.manager(value)
            return
        operation[value_key] = self.targeted(value, parts, shape)

    def targeted(self, value: Any, parts: _PathParts, shape: ResourceShape) -> Any:
        """Fix a value written at a path; ``parts`` say what the path names."""
        if parts.attribute == "":  # the path is an extension URN: the value is its object
            if isinstance(value, dict) and parts.urn is not None:
                self.booleans(value, shape.scope(parts.urn))
                if parts.urn == ENTERPRISE_USER_SCHEMA:
                    self.manager_in(value)
            return value
        attributes = shape.scope(parts.urn)
        name = parts.attribute
        if parts.sub is not None:
            if parts.sub in attributes.sub_booleans.get(name, ()):
                return self.boolean(value, f"{name}.{parts.sub}")
            return value
        if name in attributes.booleans:
            return self.boolean(value, name)
        if name in attributes.sub_booleans:
            self.booleans({name: value}, attributes)
        return value

    def removal(
        self,
        operation: dict[str, Any],
        path_key: str,
        value_key: str,
        path: str,
        parts: _PathParts,
        shape: ResourceShape,
    ) -> None:
        """A remove names its target in ``path`` alone (RFC 7644 §3.5.2.2)."""
        value = operation.get(value_key)
        if value is None:
            return
        entries = value if isinstance(value, list) else [value]
        attributes = shape.scope(parts.urn)
        ids = [read_entry_value(entry) for entry in entries]
        listable = (
            parts.attribute in attributes.valued_lists and parts.sub is None and not parts.filtered
        )
        if listable and ids and all(isinstance(item, str) for item in ids):
            self.quirk(
                f"A remove of {path!r} names the entries to remove in 'value'; "
                f'the RFC names them in the path: {path}[value eq "…"] (RFC 7644 §3.5.2.2).'
            )
            terms = " or ".join(f"value eq {json.dumps(item)}" for item in ids)
            operation[path_key] = f"{path}[{terms}]"
            del operation[value_key]
        elif not listable:
            self.quirk(f"A remove of {path!r} takes no 'value' (RFC 7644 §3.5.2.2).")
            del operation[value_key]
        # Otherwise (entries without ids, an empty list) scim2-models decides; it never
        # reads a value it cannot match as "remove everything".

    # -- values ------------------------------------------------------------------

    def booleans(self, data: dict[str, Any], attributes: SchemaShape) -> None:
        for key in list(data):
            name = key.casefold()
            if name in attributes.booleans:
                data[key] = self.boolean(data[key], key)
            elif name in attributes.sub_booleans:
                entries = data[key] if isinstance(data[key], list) else [data[key]]
                for entry in entries:
                    if not isinstance(entry, dict):
                        continue
                    for sub in list(entry):
                        if sub.casefold() in attributes.sub_booleans[name]:
                            entry[sub] = self.boolean(entry[sub], f"{key}.{sub}")

    def boolean(self, value: Any, name: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        self.quirk(f"{name!r} must be a JSON boolean, true or false (RFC 7643 §2.3.2).")
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value

    def manager_in(self, extension: dict[str, Any]) -> None:
        key = find_key(extension, "manager")
        if key is None:
            return
        value = extension.pop(key)
        if value is None or value == "" or value == []:
            self.quirk("'manager' is empty; leave it out to have no manager.")
            return
        extension["manager"] = self.manager(value)

    def manager(self, value: Any) -> Any:
        """RFC 7643 §4.3: an object with the manager's id as ``value`` and its ``$ref``."""
        if isinstance(value, list) and len(value) == 1:
            self.quirk("'manager' is single-valued: an object, not a list.")
            value = value[0]
        if isinstance(value, str):
            self.quirk("'manager' is an object with 'value' and '$ref', not a plain id.")
            value = {"value": value}
        if not isinstance(value, dict):
            return value
        identifier = read_entry_value(value)
        ref_key = find_key(value, "$ref")
        if isinstance(identifier, str) and identifier and value.get(ref_key or "$ref") is None:
            self.quirk("'manager' needs its '$ref' (RFC 7643 §4.3).")
            value[ref_key or "$ref"] = f"{self.base_url}/Users/{identifier}"
        return value

    # -- paths -------------------------------------------------------------------

    def path_key(self, key: str, shape: ResourceShape) -> tuple[str | None, str] | None:
        """(URN or None, the rest) if a key is an attribute path rather than a name."""
        if "." not in key and "[" not in key and ":" not in key:
            return None  # a plain attribute name: nearly every key
        urn, rest = split_urn(key, shape.urns())
        if urn is not None:
            return None if rest is None else (urn, rest)
        if key.casefold().startswith(
            "urn:"
        ):  # an extension of no declared schema: scim2-models decides
            return None
        if "." in key or "[" in key:
            return None, key
        return None

    def parse(self, path: str, shape: ResourceShape) -> _PathParts:
        parsed = parse_path(path, shape.urns())
        urn = parsed.urn
        if urn == shape.core_urn and not parsed.urn_only:
            urn = None
        sub = parsed.sub.casefold() if parsed.sub else None
        return _PathParts(urn, parsed.attribute.strip().casefold(), sub, parsed.filtered)
