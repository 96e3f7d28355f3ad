from tests.factories import bearer, make_token, sign_in


def test_promaster_creates_token_and_uses_it_for_scim(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)
    created = client.post("/api/v1/tokens", json={"description": "Entra ID", "scope": "scim"})
    assert created.status_code == 201, created.text
    value = created.json()["token"]
    response = client.get("/scim/v2/ServiceProviderConfig", headers=bearer(value))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json()["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_factory_token_authenticates(client, world):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    assert (
        client.get("/scim/v2/ServiceProviderConfig", headers=bearer(issued.value)).status_code
        == 200
    )
