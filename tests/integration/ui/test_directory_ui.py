"""People, Groups and Activity: read-only, searchable, paged views for Promasters.

What they show is provisioned through the real SCIM API first. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import html
import re

import pytest

from sitescim.db.repositories import directory as directory_repo
from sitescim.services import activity, directory, sites, tokens
from tests.factories import make_token
from tests.integration.ui.forms import signed_in

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def scim(client, auth_a):
    """POST a SCIM resource as site A's identity provider; return its id."""

    def post(kind: str, body: dict) -> str:
        response = client.post(f"/scim/v2/{kind}", json=body, headers=auth_a)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return post


def user(user_name: str, given: str, family: str, email: str, **extra) -> dict:
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": email, "type": "work", "primary": True}],
        **extra,
    }


def group(name: str, *member_ids: str) -> dict:
    return {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in member_ids]}


def names_in(page: str) -> list[str]:
    """The first column of a listing: the linked names, in order."""
    return [
        html.unescape(n)
        for n in re.findall(r'<th scope="row"[^>]*><a href="[^"]+">([^<]+)</a>', page)
    ]


@pytest.fixture
def promaster(client, world) -> str:
    return signed_in(client, "site-a", world.promaster_a, world.password)


def test_people_shows_name_user_name_email_active_and_groups(client, scim, promaster):
    grace = scim("Users", user("grace", "Grace", "Hopper", "grace@navy.example.com"))
    scim("Users", user("alan.t", "Alan", "Turing", "alan@bletchley.example.com", active=False))
    scim("Groups", group("Compilers", grace))

    page = client.get("/people").text

    row = re.search(
        r"<tr>\s*<th scope=\"row\"[^>]*><a href=\"/people/" + grace + r"\">.*?</tr>", page, re.S
    )
    assert row is not None
    for expected in ("Grace Hopper", ">grace<", "grace@navy.example.com", ">Active<", "Compilers"):
        assert expected in row.group(0)
    assert ">Inactive<" in page
    assert "6 people" in page  # four local accounts of the world, two provisioned


def test_people_search_matches_the_start_of_user_name_or_email(client, scim, promaster):
    scim(
        "Users",
        user("grace.h", "Grace", "Hopper", "gh@navy.example.com", displayName="Amazing Grace"),
    )
    scim("Users", user("linus", "Linus", "Torvalds", "linus@kernel.example.com"))

    def found(q: str) -> list[str]:
        return names_in(client.get("/people", params={"q": q}).text)

    assert found("grace") == ["Grace Hopper"]
    assert found("GRACE.H") == ["Grace Hopper"]
    assert found("amazing") == []  # display names are not searched: no index answers it
    assert found("gh@navy") == ["Grace Hopper"]
    assert found("hopper") == []  # a prefix search: indexes answer it
    assert found("%") == []
    assert found("_") == []
    assert "1 person matches “linus”" in client.get("/people?q=linus").text


def test_people_are_paged_forward_and_back_in_user_name_order(client, world, promaster):
    with world.runtime.db.transaction(write=True) as session:
        for index in range(55):
            sites.create_user(
                session, world.runtime, site_slug="site-a", email=f"p{index:02}@a.test"
            )
    everyone = sorted(
        [f"p{i:02}@a.test" for i in range(55)]
        + ["ada@a.test", "alan@a.test", "ann@a.test", "uma@a.test"]
    )

    first = client.get("/people").text
    next_link = html.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    second = client.get(next_link).text
    prev_link = html.unescape(re.search(r'href="([^"]+)" rel="prev"', second).group(1))
    back = client.get(prev_link).text

    assert names_in(first) == everyone[:50]
    assert 'rel="prev"' not in first
    assert names_in(second) == everyone[50:]
    assert 'rel="next"' not in second
    assert names_in(back) == everyone[:50]
    assert "59 people" in first


def test_a_damaged_page_marker_or_overlong_search_is_a_clear_400(client, promaster):
    for path in ("/people?after=garbage!", "/groups?before=eyJ4Ijp9", "/people?q=" + "x" * 101):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "Check the request" in response.text


def test_person_detail_shows_contact_details_and_groups(client, scim, promaster):
    grace = scim(
        "Users",
        user(
            "grace",
            "Grace",
            "Hopper",
            "grace@navy.example.com",
            phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
            title="Rear Admiral",
        ),
    )
    team = scim("Groups", group("Compilers", grace))

    page = client.get(f"/people/{grace}").text

    for expected in (
        "Grace Hopper",
        "grace@navy.example.com",
        "+1 555 0100",
        "Rear Admiral",
        "Compilers",
    ):
        assert expected in page
    assert f'href="/groups/{team}"' in page


def test_people_and_groups_of_another_site_are_absent(client, world, promaster, auth_b):
    b_user = client.post(
        "/scim/v2/Users", json=user("bea", "Bea", "B", "bea@b.example.com"), headers=auth_b
    ).json()["id"]
    b_group = client.post("/scim/v2/Groups", json=group("B team"), headers=auth_b).json()["id"]

    assert client.get(f"/people/{b_user}").status_code == 404
    assert client.get(f"/groups/{b_group}").status_code == 404
    assert "Bea" not in client.get("/people").text
    assert "B team" not in client.get("/groups").text


def test_groups_show_member_counts_search_and_members(client, scim, promaster):
    grace = scim("Users", user("grace", "Grace", "Hopper", "grace@navy.example.com"))
    linus = scim("Users", user("linus", "Linus", "Torvalds", "linus@kernel.example.com"))
    kernel = scim("Groups", group("Kernel", linus))
    engineering = scim("Groups", group("Engineering", grace, linus, kernel))

    listing = client.get("/groups").text
    detail = client.get(f"/groups/{engineering}").text

    assert names_in(listing) == ["Engineering", "Kernel"]
    assert re.search(r"Engineering</a></th>\s*<td[^>]*>3</td>", listing)
    assert names_in(client.get("/groups?q=ker").text) == ["Kernel"]
    assert f'href="/people/{grace}"' in detail
    assert f'href="/groups/{kernel}"' in detail
    assert ">group<" in detail


def test_group_members_come_a_page_at_a_time(client, world, scim, promaster):
    ids = [scim("Users", user(f"u{i}", "U", str(i), f"u{i}@x.example.com")) for i in range(5)]
    team = scim("Groups", group("Team", *ids))
    with world.runtime.db.transaction(write=False) as session:
        actor = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a)
        first = directory.get_group_detail(session, actor, team, limit=2)
        rest = directory.get_group_detail(session, actor, team, after=first.next_after, limit=10)

    assert first.member_count == 5
    assert [m.id for m in first.members] == ids[:2]
    assert [m.id for m in rest.members] == ids[2:]
    assert rest.next_after is None


def test_activity_filters_by_kind_and_by_day(client, world, clock, scim, promaster):
    failed = {"site": "site-a", "email": world.user_a, "password": "not the password"}
    assert client.post("/api/v1/session", json=failed).status_code == 401
    clock.advance(days=2)
    grace = scim("Users", user("grace", "Grace", "Hopper", "grace@navy.example.com"))
    scim("Groups", group("Navy", grace))

    def actions(**params: str) -> list[str]:
        page = client.get("/activity", params=params)
        assert page.status_code == 200, page.text
        return re.findall(r'<th scope="row" data-label="What">([^<]+)', page.text)

    everything = actions()
    assert {"Token created", "Authentication failed", "User created", "Signed in"} <= set(
        everything
    )
    assert set(actions(kind="tokens")) == {"Token created"}
    assert set(actions(kind="provisioning")) == {"User created", "Group created"}
    assert set(actions(kind="auth")) == {"Authentication failed"}
    assert set(actions(kind="sign-ins")) == {"Signed in"}
    assert actions(since="2026-03-03") == ["Group created", "User created"]
    assert "User created" not in actions(until="2026-03-01")
    assert set(actions(since="2026-03-01", until="2026-03-01")) == {
        "Token created",
        "Authentication failed",
        "Signed in",
    }


def test_activity_refuses_filters_it_cannot_apply(client, promaster):
    assert client.get("/activity?kind=everything").status_code == 400
    assert client.get("/activity?since=2026-03-05&until=2026-03-01").status_code == 400
    assert client.get("/activity?since=yesterday").status_code == 400


def test_activity_pages_to_older_events(client, world, promaster):
    with world.runtime.db.transaction(write=False) as session:
        actor = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a)
    for description in ("one", "two", "three"):
        make_token(world.runtime, "site-a", world.promaster_a2, description)
        with world.runtime.db.transaction(write=True) as session:
            [view] = [
                v for v in tokens.list_tokens(session, world.runtime, actor) if v.status == "active"
            ]
            tokens.revoke_token(session, world.runtime, actor, view.id)
    with world.runtime.db.transaction(write=False) as session:
        first = activity.list_activity(session, actor, kind="tokens", limit=4)
        rest = activity.list_activity(session, actor, kind="tokens", before=first.next_before)

    assert len(first.events) == 4
    assert len(rest.events) == 2
    assert first.events[-1].id > rest.events[0].id


def test_only_promasters_see_people_groups_and_activity(client, world):
    signed_in(client, "site-a", world.user_a, world.password)

    profile = client.get("/profile").text

    for path in ("/people", "/groups", "/activity"):
        assert f'href="{path}"' not in profile
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Only the site's Promasters" in html.unescape(response.text)


def test_a_broad_search_stops_counting_and_pages_alike_either_way(client, world, scim):
    for index in range(6):
        scim("Users", user(f"member{index}", "M", str(index), f"team{index}@x.example.com"))

    with world.runtime.db.transaction(write=False) as session:
        broad = directory_repo.count_people(session, world.site_a, prefix="team", cap=3)
        exact = directory_repo.count_people(session, world.site_a, prefix="team", cap=10)
        pages = [
            [
                u.user_name
                for u in directory_repo.list_people(
                    session, world.site_a, prefix="team", limit=4, many_emails_match=walk
                )
            ]
            for walk in (False, True)
        ]

    assert broad == directory_repo.PeopleCount(total=4, many_emails_match=True)
    assert exact == directory_repo.PeopleCount(total=6, many_emails_match=False)
    assert pages[0] == pages[1] == ["member0", "member1", "member2", "member3"]
