"""Operator API keys: shown once, hashed at rest, limited to sites, revoked at once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sitescim.domain import api_keys as rules
from sitescim.domain import tokens
from sitescim.domain.errors import InvalidTokenError, NotFoundError
from sitescim.services import api_keys
from tests.world import World


def test_a_key_is_shown_once_stored_as_a_hash_and_names_its_sites(world: World) -> None:
    issued = api_keys.create_key(world.runtime, description=" app ", site_slugs=["site-b"])
    assert issued.key.startswith("sscop_")
    assert rules.is_well_formed(issued.key)
    assert not tokens.is_well_formed(issued.key)  # never mistaken for a site token
    assert issued.view.sites == ["site-b"]
    assert issued.view.description == "app"
    with world.runtime.db.transaction(write=False) as session:
        stored = session.execute(text("SELECT key_hash FROM api_keys")).scalar_one()
    assert issued.key not in stored
    assert [view.id for view in api_keys.list_keys(world.runtime)] == [issued.view.id]

    key = api_keys.authenticate(world.runtime, issued.key, address="127.0.0.1")
    assert key.may_read(world.site_b)
    assert not key.may_read(world.site_a)
    assert key.narrow(None) == frozenset({world.site_b})
    with pytest.raises(NotFoundError):
        key.narrow([world.site_a])


def test_an_unknown_site_is_refused_and_nothing_is_written(world: World) -> None:
    with pytest.raises(NotFoundError, match="no-such-site"):
        api_keys.create_key(world.runtime, description="app", site_slugs=["no-such-site"])
    assert api_keys.list_keys(world.runtime) == []


@pytest.mark.parametrize("value", [None, "", "sscop_short", "sscim_" + "A" * 49])
def test_missing_or_malformed_keys_are_refused(world: World, value: str | None) -> None:
    with pytest.raises(InvalidTokenError):
        api_keys.authenticate(world.runtime, value, address=None)


def test_a_revoked_key_fails_on_the_very_next_request(world: World) -> None:
    issued = api_keys.create_key(world.runtime, description="app")
    assert api_keys.authenticate(world.runtime, issued.key, address=None).site_ids is None
    assert api_keys.revoke_key(world.runtime, issued.view.id).status == "revoked"
    with pytest.raises(InvalidTokenError) as refused:
        api_keys.authenticate(world.runtime, issued.key, address=None)
    assert refused.value.reason == "revoked"
    assert issued.key not in str(refused.value)
