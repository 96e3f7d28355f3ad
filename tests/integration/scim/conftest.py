"""Fixtures of the SCIM tests that call the services without HTTP."""

from __future__ import annotations

import pytest

from sitescim.services import tokens as token_service
from sitescim.services.tokens import AuthenticatedToken
from tests.factories import make_token
from tests.world import World


@pytest.fixture
def token_a(world: World) -> AuthenticatedToken:
    """Site-a's identity provider as the services see it once its bearer token is checked."""
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    found = token_service.check_token_sync(world.runtime, issued.value).found
    assert found is not None
    return found
