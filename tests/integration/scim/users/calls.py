"""Samples, requests and row reads shared by the SCIM /Users tests."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from sitescim.db.models import Site
from sitescim.db.models import User as UserRow

SAMPLES = Path(__file__).parent.parent.parent.parent / "samples"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SITESCIM = "urn:sitescim:params:scim:schemas:extension:sitescim:2.0:User"
GOOD_PASSWORD = "a long enough passphrase"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def full_user() -> dict:
    body = sample("rfc7643-8.2-user-full.json")
    body["password"] = GOOD_PASSWORD
    return body


def create(client, headers, body: dict) -> dict:
    response = client.post("/scim/v2/Users", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def user_id_of(world, site_slug: str, user_name: str) -> str:
    with world.runtime.db.transaction(write=False) as session:
        site = session.scalar(select(Site).where(Site.slug == site_slug))
        return session.scalar(
            select(UserRow.id).where(
                UserRow.site_id == site.id, UserRow.user_name_key == user_name.casefold()
            )
        )


def stored(world, user_id: str) -> UserRow:
    with world.runtime.db.transaction(write=False) as session:
        row = session.get(UserRow, user_id)
        assert row is not None
        session.expunge(row)
        return row


def allow_scim_promaster(world, slug: str = "site-a") -> None:
    with world.runtime.db.transaction(write=True) as session:
        site = session.scalar(select(Site).where(Site.slug == slug))
        site.scim_may_set_promaster = True
