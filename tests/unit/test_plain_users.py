"""Bulk's shortcut for plain user bodies builds exactly what the reference path builds.

``user_batches.plain_new_user`` reads a body with ``scim.plain_users`` instead of
scim2-models; for every body it accepts, the user row, value rows, document,
audit row and event must equal those of ``user_creation._new_user`` (model_validate,
mapping.user_from_scim, ORM rows), and a body the reference refuses must never
be accepted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from sitescim.db.engine import Database
from sitescim.db.repositories.batches import column_values
from sitescim.scim.schemas import USER_SCHEMA
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from sitescim.services.user_batches import _new_user_values, plain_new_user
from sitescim.services.user_creation import _new_user

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
BASE = "https://scim.example/scim/v2"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RUNTIME = Runtime(db=cast(Database, None), pepper=b"pepper", clock=lambda: NOW)
TOKENS = [
    AuthenticatedToken("token-1", "site-1", "site", "scim", "Entra ID"),
    AuthenticatedToken("token-1", "site-1", "site", "scim", "Okta", may_set_promaster=True),
]

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " a ", "Ärger", "ǅ", "ß", "x" * 64, "x" * 65, "x" * 256, "x" * 257]),
)
scalars = st.one_of(texts, st.none(), st.booleans(), st.integers(), st.just([]), st.just({}))
emails = st.one_of(
    st.sampled_from(
        [
            "a@b.com",
            "A.B@bench.example.com",
            "a@B.com",
            "a..b@b.com",
            ".a@b.com",
            "a.@b.com",
            "a@b",
            "a@localhost",
            "a@b.local",
            "a@b.test",
            "a@-b.com",
            "a@b-.com",
            "a@ab--c.com",
            "a@xn--bcher-kva.com",
            "a@1.com",
            "a@b.1a",
            "a@b.c1",
            "user+tag@b.co",
            "x" * 64 + "@b.com",
            "x" * 65 + "@b.com",
            "a@" + "b" * 63 + ".com",
            "a@" + "b" * 64 + ".com",
            "a@" + ".".join(["b" * 60] * 5) + ".com",
            " a@b.com",
            "Name <a@b.com>",
            "a@b.com\n",
            "ä@b.com",
            "a@ä.com",
        ]
    ),
    st.from_regex(r"[a-zA-Z0-9._+-]{1,6}@[a-zA-Z0-9.-]{1,8}", fullmatch=True),
    texts,
)
kinds = st.one_of(st.sampled_from(["work", "Work", "HOME", "other", "mobile", "weird"]), scalars)
flags = st.one_of(st.booleans(), st.none(), st.sampled_from(["true", 1, 0]))


def entries(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    entry = st.fixed_dictionaries(
        {},
        optional={
            "value": values,
            "type": kinds,
            "primary": flags,
            "display": texts,
            "Value": values,
            "extra": texts,
        },
    )
    return st.one_of(st.lists(entry, max_size=3), scalars)


names = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            key: st.one_of(texts, st.none(), st.integers())
            for key in ("givenName", "familyName", "formatted", "middleName", "honorificPrefix")
        }
        | {"honorificSuffix": texts, "nickName": texts},
    ),
    scalars,
)
bodies = st.fixed_dictionaries(
    {
        "schemas": st.one_of(
            st.just([USER_SCHEMA]),
            st.sampled_from([[], [USER_SCHEMA.upper()], [USER_SCHEMA, "urn:x"], USER_SCHEMA]),
        ),
    },
    optional={
        "userName": st.one_of(texts, emails, scalars),
        "externalId": st.one_of(texts, scalars),
        "displayName": texts,
        "nickName": texts,
        "title": texts,
        "userType": texts,
        "locale": texts,
        "timezone": texts,
        "preferredLanguage": texts,
        "active": flags,
        "name": names,
        "emails": entries(emails),
        "phoneNumbers": entries(texts),
        "username": texts,
        "id": texts,
        "password": texts,
        "profileUrl": texts,
    },
)

good_texts = st.one_of(
    st.text(min_size=1, max_size=10), st.sampled_from(["Ärger", "ǅ", "ß", " a "])
)
good_emails = st.one_of(
    st.from_regex(
        r"[a-zA-Z0-9_+-]{1,5}(\.[a-zA-Z0-9_+-]{1,3})?@[a-z0-9-]{1,6}\.[a-z]{1,4}", fullmatch=True
    ),
    emails,
)
good_entry = st.fixed_dictionaries(
    {"value": good_emails},
    optional={
        "type": st.sampled_from(["work", "Work", "HOME", "other", "weird", "Weird"]),
        "primary": st.booleans(),
        "display": good_texts,
    },
)
good_phone = st.fixed_dictionaries(
    {"value": st.text(max_size=12)},
    optional={
        "type": st.sampled_from(["work", "MOBILE", "fax", "pager", "other", "weird"]),
        "primary": st.booleans(),
    },
)
plain_bodies = st.fixed_dictionaries(
    {"schemas": st.just([USER_SCHEMA]), "userName": st.one_of(good_texts, good_emails)},
    optional={
        "externalId": st.one_of(good_texts, st.none()),
        "displayName": good_texts,
        "nickName": good_texts,
        "title": good_texts,
        "userType": good_texts,
        "locale": good_texts,
        "timezone": good_texts,
        "preferredLanguage": good_texts,
        "active": st.booleans(),
        "name": st.fixed_dictionaries(
            {},
            optional={
                key: good_texts
                for key in (
                    "givenName",
                    "familyName",
                    "formatted",
                    "middleName",
                    "honorificPrefix",
                    "honorificSuffix",
                )
            },
        ),
        "emails": st.lists(good_entry, max_size=3),
        "phoneNumbers": st.lists(good_phone, max_size=2),
    },
)

BENCH_BODY = {
    "schemas": [USER_SCHEMA],
    "userName": "abc-1@bench.test",
    "externalId": "abc-1",
    "name": {"givenName": "Bench", "familyName": "User 1"},
    "emails": [{"value": "abc-1@bench.example.com", "type": "work", "primary": True}],
    "active": True,
}
ENTRA_BODY = {
    "schemas": [USER_SCHEMA],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2f1f6e3c55",
    "userName": "Test_User_ab6490ee@contoso.com",
    "active": False,
    "displayName": "Test User",
    "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb@contoso.com"}],
    "name": {"formatted": "givenName familyName", "familyName": "familyName"},
    "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
    "title": "Engineer",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "Europe/Paris",
    "userType": "Employee",
}


def _reference(token: AuthenticatedToken, body: dict[str, Any]) -> Any:
    try:
        # No plain body names a manager or a password: the session is never used.
        return _new_user(
            cast(Session, None), RUNTIME, token, body, base_url=BASE, address="192.0.2.1"
        )
    except Exception:
        return None


@settings(max_examples=500)
@given(body=st.one_of(plain_bodies, bodies), token=st.sampled_from(TOKENS))
@example(body=BENCH_BODY, token=TOKENS[0])
@example(body=ENTRA_BODY, token=TOKENS[1])
def test_a_plain_body_is_built_as_the_reference_builds_it(
    body: dict[str, Any], token: AuthenticatedToken
) -> None:
    reference = _reference(token, body)
    user_id = reference.user.id if reference is not None else "no-user"
    plain = plain_new_user(
        token, body, user_id=user_id, now=NOW, base_url=BASE, address="192.0.2.1"
    )
    if plain is None:
        return
    assert reference is not None, "the shortcut accepted a body the reference refuses"
    assert plain.user == column_values(reference.user)
    assert plain.values == [column_values(row) for row in reference.values]
    assert plain.document == reference.document
    # the same keys in the same order: the stored event is the same text
    assert json.dumps(plain.document) == json.dumps(reference.document)
    assert plain.audited == reference.event
    assert plain.announced == reference.announced


def test_the_bodies_identity_providers_send_take_the_shortcut() -> None:
    for body in (BENCH_BODY, ENTRA_BODY):
        plain = plain_new_user(TOKENS[0], body, user_id="u", now=NOW, base_url=BASE, address=None)
        assert plain is not None, body


def test_a_body_the_shortcut_leaves_is_built_by_the_reference_for_the_batch() -> None:
    """An enterprise attribute is no plain body: the batch still takes it, built whole."""
    body = {**BENCH_BODY, "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"department": "R&D"}}
    assert (
        plain_new_user(TOKENS[0], body, user_id="u", now=NOW, base_url=BASE, address=None) is None
    )
    built = _new_user_values(
        cast(Session, None), RUNTIME, TOKENS[0], body, base_url=BASE, address="192.0.2.1"
    )
    assert built.user["department"] == "R&D"
    assert built.audited["action"] == "scim.user.create"
    assert built.document[ENTERPRISE] == {"department": "R&D"}
