"""Token rule T9: format, checksum and refusal without a database lookup; through
the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import pytest

from sitescim.domain.tokens import ALPHABET, PREFIX, TOKEN_LENGTH, generate_token, is_well_formed
from tests.factories import bearer, make_token, sign_in
from tests.integration.token_rules.calls import (
    ERROR_SCHEMA,
    SCP,
    create_ok,
    recorded_statements,
    recorded_token_reads,
    scim_status,
    touches_tokens,
    with_one_char_changed,
)


def test_token_value_has_prefix_length_and_checksum(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)

    value = create_ok(client)["token"]

    assert value.startswith("sscim_")
    assert len(value) == TOKEN_LENGTH
    assert set(value[len(PREFIX) :]) <= set(ALPHABET)
    assert is_well_formed(value)
    assert not is_well_formed(with_one_char_changed(value, 10))


def test_well_formed_unknown_token_is_looked_up(client, world, database):
    headers = {**bearer(generate_token()), "X-Request-Id": "t9-control"}

    with recorded_token_reads(client) as lookups:
        response = client.get(SCP, headers=headers)

    assert response.status_code == 401
    assert len(lookups) == 1


@pytest.mark.parametrize(
    "damage",
    ["random-char", "checksum-char", "truncated", "extended", "wrong-prefix", "bad-alphabet"],
)
def test_damaged_token_is_refused_without_database_lookup(client, world, database, damage):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    value = issued.value
    broken = {
        "random-char": with_one_char_changed(value, len(PREFIX) + 5),
        "checksum-char": with_one_char_changed(value, len(value) - 1),
        "truncated": value[:-1],
        "extended": value + "A",
        "wrong-prefix": "sscin_" + value[len(PREFIX) :],
        "bad-alphabet": value[:20] + "-" + value[21:],
    }[damage]
    assert broken != value

    rid = f"t9-{damage}"

    with (
        recorded_statements(database, rid) as statements,
        recorded_token_reads(client) as lookups,
    ):
        response = client.get(SCP, headers={**bearer(broken), "X-Request-Id": rid})

    assert response.status_code == 401
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert statements, "the failed authentication is audited, so some SQL ran"
    assert not touches_tokens(statements), statements
    assert lookups == []
    assert scim_status(client, value) == 200
