"""A property-based fuzzer for /scim/v2: hostile JSON, strings, filters, cursors, Bulk
bodies, ids and query parameters, on SQLite and PostgreSQL.

Every response must be below 500 and show no internals (tests/fuzz/conftest.py).
Requests go through the whole application (middleware, routing, token check,
use cases, the real database), in process. Bounded by default; set
``SITESCIM_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from sitescim.web.app import create_app
from tests.factories import TEST_PEPPER, TEST_SESSION_SECRET
from tests.fuzz.conftest import assert_no_leak, fuzz_settings

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

# Strings: ordinary, hostile, and long enough to pass every column.
special_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfff",
        "\u202e",
        "😀",
        "ß",
        "İ",
        "%",
        "_",
        "\\",
        '"',
        "'; DROP TABLE users; --",
        "bulkId:a",
        "bulkId:missing",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "test.user@okta.local",
        "a@b",
        "2026-13-45T99:99:99Z",
        "9223372036854775808",
        "True",
        "False",
        "null",
    ]
)
long_text = st.builds(lambda length: "x" * length, st.sampled_from([37, 65, 257, 1025, 5000]))
text = st.one_of(st.text(max_size=40), special_text, long_text)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from([2**63, -(2**63) - 1, 10**400 // 10**399, 1e308]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4)
    ),
    max_leaves=12,
)

ATTRIBUTES = [
    "userName",
    "displayName",
    "externalId",
    "active",
    "password",
    "title",
    "name",
    "name.givenName",
    "emails",
    'emails[type eq "work"].value',
    "phoneNumbers",
    "addresses",
    "roles",
    "x509Certificates",
    "groups",
    "members",
    "id",
    "meta",
    "schemas",
    f"{ENTERPRISE_URN}:manager",
    f"{ENTERPRISE_URN}:department",
    "nickName",
    "locale",
    "timezone",
]
plausible = st.one_of(
    st.just([{"value": "a@corp.local", "type": "work", "primary": True}]),
    st.lists(st.fixed_dictionaries({"value": text}), max_size=3),
    st.just({"givenName": "Ada", "familyName": "Lovelace"}),
    st.just({"value": "bulkId:a"}),
    st.just([{"value": "bulkId:a"}]),
    st.sampled_from(["true", "False", True, False]),
)
attribute_values = st.one_of(json_values, plausible, text)


def _body(schemas: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda fields, extra: {"schemas": schemas, **fields, **extra},
        st.dictionaries(st.sampled_from(ATTRIBUTES), attribute_values, max_size=5),
        st.dictionaries(text, json_values, max_size=2),
    )


user_bodies = st.one_of(
    _body([USER_URN]),
    _body([USER_URN, ENTERPRISE_URN]),
    st.builds(lambda name: {"schemas": [USER_URN], "userName": name}, text),
)
group_bodies = st.one_of(
    _body([GROUP_URN]),
    st.builds(
        lambda name, members: {"schemas": [GROUP_URN], "displayName": name, "members": members},
        text,
        st.lists(st.fixed_dictionaries({"value": text}), max_size=3),
    ),
)
operations = st.fixed_dictionaries(
    {
        "op": st.one_of(
            st.sampled_from(["add", "replace", "remove", "Add", "Replace", "REMOVE"]), text
        ),
    },
    optional={
        "path": st.one_of(
            st.sampled_from([*ATTRIBUTES, 'members[value eq "x"]', "emails[value co ]"]), text
        ),
        "value": attribute_values,
    },
)
patch_bodies = st.builds(
    lambda ops, schemas: {"schemas": schemas, "Operations": ops},
    st.one_of(st.lists(operations, max_size=4), json_values),
    st.sampled_from([[PATCH_URN], [], ["urn:x"]]),
)

ATTRIBUTE_PATHS = [
    "userName",
    "displayName",
    "externalId",
    "id",
    "active",
    "title",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "name.givenName",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "members",
    "members.value",
    "groups",
    "x509Certificates",
    f"{ENTERPRISE_URN}:department",
    f"{ENTERPRISE_URN}:manager.value",
    "nosuch",
    "emails.nosuch",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "xx"]
comparison_values = st.one_of(
    st.builds(lambda value: json.dumps(value, ensure_ascii=False), text),
    st.builds(str, st.integers(min_value=-(2**70), max_value=2**70)),
    st.sampled_from(["true", "false", "null", '"2026-03-01T12:00:00Z"', '"9999-12-31"', "1e999"]),
)
comparisons = st.builds(
    lambda attribute, op, value: f"{attribute} {op}" if op == "pr" else f"{attribute} {op} {value}",
    st.sampled_from(ATTRIBUTE_PATHS),
    st.sampled_from(OPERATORS),
    comparison_values,
)
filter_texts = st.one_of(
    st.recursive(
        comparisons,
        lambda children: st.one_of(
            st.builds(lambda a, b: f"{a} and {b}", children, children),
            st.builds(lambda a, b: f"({a} or {b})", children, children),
            st.builds(lambda a: f"not ({a})", children),
            st.builds(lambda a: f"emails[{a}]", children),
        ),
        max_leaves=5,
    ),
    st.builds(lambda depth: "(" * depth + 'userName eq "x"' + ")" * depth, st.integers(1, 2000)),
    text,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


cursors = st.one_of(
    st.just(""),
    text,
    st.builds(lambda value: _b64(json.dumps(value).encode()), json_values),
    st.builds(
        lambda value, tag: f"{_b64(json.dumps(value).encode())}.{_b64(tag)}",
        json_values,
        st.binary(max_size=20),
    ),
)
integers_as_text = st.one_of(
    st.builds(str, st.integers(min_value=-(2**80), max_value=2**80)),
    st.sampled_from(["", "1.5", "1e3", "NaN", " 7 ", "0x10", "٣"]),
)
list_params = st.fixed_dictionaries(
    {},
    optional={
        "filter": filter_texts,
        "sortBy": st.one_of(st.sampled_from(ATTRIBUTE_PATHS), text),
        "sortOrder": st.one_of(st.sampled_from(["ascending", "descending"]), text),
        "startIndex": integers_as_text,
        "count": integers_as_text,
        "cursor": cursors,
        "attributes": st.one_of(st.sampled_from(ATTRIBUTE_PATHS), text),
        "excludedAttributes": st.one_of(st.sampled_from(["members", "emails"]), text),
    },
)
search_bodies = st.builds(
    lambda params, extra: {"schemas": [SEARCH_URN], **params, **extra},
    list_params,
    st.dictionaries(st.sampled_from(["startIndex", "count", "cursor", "filter"]), json_values),
)
bulk_operations = st.fixed_dictionaries(
    {
        "method": st.one_of(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "post"]), text),
        "path": st.one_of(
            st.sampled_from(["/Users", "/Groups", "/Users/bulkId:a", "/Groups/bulkId:b", "/x"]),
            text,
        ),
    },
    optional={
        "bulkId": st.one_of(st.sampled_from(["a", "b", "c"]), text),
        "data": st.one_of(user_bodies, group_bodies, patch_bodies, json_values),
        "version": text,
    },
)
bulk_bodies = st.builds(
    lambda ops, fail: {"schemas": [BULK_URN], "Operations": ops, "failOnErrors": fail},
    st.lists(bulk_operations, max_size=5),
    st.one_of(st.none(), st.integers(-1, 3), text),
)


def nested(depth: int) -> str:
    return '{"schemas":["' + USER_URN + '"],"userName":"n","x":' + "[" * depth + "]" * depth + "}"


raw_bodies = st.one_of(
    st.builds(nested, st.integers(1, 1100)),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"null", b"[]", b'"x"', b'{"a":"\\ud800"}', b'{"a":"\\u0000"}']),
)


@dataclass
class Known:
    """Ids of resources that exist, so requests also reach real rows."""

    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def ids(known: Known) -> st.SearchStrategy[str]:
    existing = st.sampled_from(known.users + known.groups)
    weird = st.one_of(
        long_text,
        st.sampled_from(["00000000-0000-0000-0000-000000000000", "..", "%2F", "%00", "é"]),
    )
    return st.one_of(existing, weird, text.filter(lambda t: t and "/" not in t))


def requests(known: Known) -> st.SearchStrategy[tuple[str, str, Any]]:
    """(method, path with query, body) where body is a JSON value, bytes or None."""
    resource = st.sampled_from(["Users", "Groups"])
    one = st.builds(
        lambda r, i: f"/scim/v2/{r}/{quote(i, safe='%', errors='surrogatepass')}",
        resource,
        ids(known),
    )
    listing = st.builds(
        lambda r, params: f"/scim/v2/{r}?{urlencode(params, errors='surrogatepass')}",
        resource,
        list_params,
    )
    return st.one_of(
        st.tuples(st.just("GET"), listing, st.none()),
        st.tuples(st.just("GET"), one, st.none()),
        st.tuples(st.just("POST"), st.just("/scim/v2/Users"), st.one_of(user_bodies, raw_bodies)),
        st.tuples(st.just("POST"), st.just("/scim/v2/Groups"), group_bodies),
        st.tuples(st.sampled_from(["PUT"]), one, st.one_of(user_bodies, group_bodies)),
        st.tuples(st.just("PATCH"), one, st.one_of(patch_bodies, raw_bodies)),
        st.tuples(st.just("DELETE"), one, st.none()),
        st.tuples(
            st.just("POST"),
            st.sampled_from(["/scim/v2/Users/.search", "/scim/v2/Groups/.search"]),
            search_bodies,
        ),
        st.tuples(st.just("POST"), st.just("/scim/v2/Bulk"), st.one_of(bulk_bodies, raw_bodies)),
        st.tuples(
            st.sampled_from(["GET", "PUT", "DELETE", "OPTIONS"]),
            st.sampled_from(
                ["/scim/v2/Users", "/scim/v2/Bulk", "/scim/v2/Schemas/x", "/scim/v2/x"]
            ),
            st.none(),
        ),
    )


header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.sampled_from(['W/"1"', '"1"', "*", 'W/"99999999999999999999999"', 'W/"-1"', "W/", ""]),
)
preconditions = st.fixed_dictionaries(
    {}, optional={"If-Match": header_text, "If-None-Match": header_text}
)


def _encoded(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    return json.dumps(body).encode()  # ASCII escapes: lone surrogates travel as \\ud800


@pytest.fixture
def fuzz_client(settings, database, clock, auth_a):
    app = create_app(settings, clock=clock, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers.update(auth_a)
        known = Known()
        for index in range(3):
            user = {
                "schemas": [USER_URN],
                "userName": f"seed{index}",
                "emails": [{"value": f"s{index}@x.test"}],
            }
            known.users.append(client.post("/scim/v2/Users", json=user).json()["id"])
        group = {
            "schemas": [GROUP_URN],
            "displayName": "Seed",
            "members": [{"value": known.users[0]}],
        }
        known.groups.append(client.post("/scim/v2/Groups", json=group).json()["id"])
        token = auth_a["Authorization"].removeprefix("Bearer ")
        yield client, known, [token, TEST_PEPPER, TEST_SESSION_SECRET]


def test_scim_never_answers_5xx_or_shows_internals(fuzz_client):
    client, known, secrets = fuzz_client

    @fuzz_settings(default=1000)
    @given(request=requests(known), headers=preconditions)
    def send(request: tuple[str, str, Any], headers: dict[str, str]) -> None:
        method, path, body = request
        content = _encoded(body)
        if content is not None:
            headers = {**headers, "Content-Type": "application/scim+json"}
        response = client.request(
            method,
            path,
            content=content,
            headers=headers,
            follow_redirects=True,  # a redirect loop raises TooManyRedirects
        )
        event(f"{method} {response.status_code}")
        assert response.status_code < 500, (method, path, content and content[:300], response.text)
        request_text = path + (content or b"").decode("utf-8", "replace")
        assert_no_leak(response.text, request_text, secrets)
        assert response.headers.get("content-type", "application/scim+json").startswith(
            ("application/scim+json", "application/json")
        ), response.headers

    send()


# Hostile bodies are large by design; hypothesis warns when it describes one.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
