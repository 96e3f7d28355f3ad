"""Discovery endpoints (RFC 7644 §4): truthful, complete, read-only, behind the token."""

from __future__ import annotations

import pytest

from tests.factories import bearer

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SITESCIM_USER = "urn:sitescim:params:scim:schemas:extension:sitescim:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BASE = "http://testserver/scim/v2"


def test_service_provider_config_declares_what_this_release_supports(client, auth_a):
    response = client.get("/scim/v2/ServiceProviderConfig", headers=auth_a)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    config = response.json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"] == {
        "supported": True,
        "maxOperations": 1000,
        "maxPayloadSize": 2_097_152,
    }
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
    }
    assert [scheme["type"] for scheme in config["authenticationSchemes"]] == ["oauthbearertoken"]
    assert config["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


def test_resource_types_list_users_with_both_extensions_and_groups(client, auth_a):
    response = client.get("/scim/v2/ResourceTypes", headers=auth_a)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == 2
    assert body["itemsPerPage"] == 2
    assert body["startIndex"] == 1
    by_id = {resource["id"]: resource for resource in body["Resources"]}
    assert set(by_id) == {"User", "Group"}
    user = by_id["User"]
    assert user["name"] == "User"
    assert user["endpoint"] == "/Users"
    assert user["schema"] == CORE_USER
    assert user["schemaExtensions"] == [
        {"schema": ENTERPRISE_USER, "required": False},
        {"schema": SITESCIM_USER, "required": False},
    ]
    assert user["meta"] == {
        "resourceType": "ResourceType",
        "location": f"{BASE}/ResourceTypes/User",
    }
    group = by_id["Group"]
    assert group["endpoint"] == "/Groups"
    assert group["schema"] == CORE_GROUP
    assert not group.get("schemaExtensions")


@pytest.mark.parametrize("resource_id", ["User", "Group"])
def test_each_resource_type_is_served_by_id_as_in_the_list(client, auth_a, resource_id):
    listed = client.get("/scim/v2/ResourceTypes", headers=auth_a).json()["Resources"]
    response = client.get(f"/scim/v2/ResourceTypes/{resource_id}", headers=auth_a)
    assert response.status_code == 200
    assert response.json() == next(r for r in listed if r["id"] == resource_id)


def test_schemas_list_core_enterprise_sitescim_and_group(client, auth_a):
    response = client.get("/scim/v2/Schemas", headers=auth_a)
    assert response.status_code == 200
    body = response.json()
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == len(body["Resources"]) == body["itemsPerPage"] == 4
    assert body["startIndex"] == 1
    ids = [schema["id"] for schema in body["Resources"]]
    assert ids == [CORE_USER, ENTERPRISE_USER, SITESCIM_USER, CORE_GROUP]
    for schema in body["Resources"]:
        assert schema["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
        assert schema["meta"] == {
            "resourceType": "Schema",
            "location": f"{BASE}/Schemas/{schema['id']}",
        }


def test_every_resource_type_names_schemas_that_are_published(client, auth_a):
    published = {
        s["id"] for s in client.get("/scim/v2/Schemas", headers=auth_a).json()["Resources"]
    }
    for resource_type in client.get("/scim/v2/ResourceTypes", headers=auth_a).json()["Resources"]:
        assert resource_type["schema"] in published
        for extension in resource_type.get("schemaExtensions", []):
            assert extension["schema"] in published


def _attributes(schema):
    return {attribute["name"]: attribute for attribute in schema["attributes"]}


def _sub_attributes(attribute):
    return {sub["name"]: sub for sub in attribute["subAttributes"]}


def test_sitescim_extension_declares_privilege_read_only(client, auth_a):
    response = client.get(f"/scim/v2/Schemas/{SITESCIM_USER}", headers=auth_a)
    assert response.status_code == 200
    attributes = _attributes(response.json())
    assert set(attributes) == {"privilege"}
    privilege = attributes["privilege"]
    assert privilege["type"] == "string"
    assert privilege["multiValued"] is False
    assert privilege["required"] is False
    assert privilege["canonicalValues"] == ["user", "business_analyst", "promaster"]
    assert privilege["mutability"] == "readOnly"
    assert privilege["returned"] == "default"


def test_user_schema_declares_the_rfc_attributes_and_a_write_only_password(client, auth_a):
    schema = client.get(f"/scim/v2/Schemas/{CORE_USER}", headers=auth_a).json()
    attributes = _attributes(schema)
    for name in (
        "userName",
        "name",
        "displayName",
        "active",
        "emails",
        "phoneNumbers",
        "addresses",
        "ims",
        "photos",
        "x509Certificates",
        "entitlements",
        "roles",
        "groups",
        "password",
    ):
        assert name in attributes, name
    assert attributes["userName"]["required"] is True
    assert attributes["userName"]["uniqueness"] == "server"
    assert attributes["userName"]["caseExact"] is False
    assert attributes["password"]["mutability"] == "writeOnly"
    assert attributes["password"]["returned"] == "never"
    assert attributes["groups"]["mutability"] == "readOnly"
    emails = _sub_attributes(attributes["emails"])
    assert emails["value"]["type"] == "string"
    assert attributes["emails"]["multiValued"] is True
    # Common attributes are not part of a schema (RFC 7643 §3.1 / §7).
    assert "id" not in attributes
    assert "meta" not in attributes


def test_enterprise_and_group_schemas_declare_their_attributes(client, auth_a):
    enterprise = _attributes(
        client.get(f"/scim/v2/Schemas/{ENTERPRISE_USER}", headers=auth_a).json()
    )
    assert {
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    } <= set(enterprise)
    group = _attributes(client.get(f"/scim/v2/Schemas/{CORE_GROUP}", headers=auth_a).json())
    assert group["displayName"]["required"] is True
    members = _sub_attributes(group["members"])
    assert {"value", "$ref", "type", "display"} <= set(members)
    assert members["value"]["mutability"] == "immutable"
    # The service sets each member's display from the member itself (RFC 7643 §2.4).
    assert members["display"]["mutability"] == "readOnly"


def test_schema_ids_are_matched_without_regard_to_case(client, auth_a):
    response = client.get(f"/scim/v2/Schemas/{CORE_USER.upper()}", headers=auth_a)
    assert response.status_code == 200
    assert response.json()["id"] == CORE_USER


@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope",
        "/scim/v2/ResourceTypes/Widget",
    ],
)
def test_unknown_discovery_id_is_a_scim_404(client, auth_a, path):
    response = client.get(path, headers=auth_a)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "404"


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_discovery_endpoints_refuse_writes_with_405(client, auth_a, path, method):
    response = client.request(method, f"/scim/v2{path}", headers=auth_a, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize(
    "path", ["/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User", "/Schemas"]
)
def test_discovery_with_a_filter_is_forbidden(client, auth_a, path):
    response = client.get(f"/scim/v2{path}", params={"filter": 'name eq "User"'}, headers=auth_a)
    assert response.status_code == 403
    assert response.json()["status"] == "403"


@pytest.mark.parametrize(
    "path",
    [
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas",
        f"/Schemas/{CORE_USER}",
    ],
)
def test_discovery_needs_the_token(client, world, path):
    assert client.get(f"/scim/v2{path}").status_code == 401
    assert client.post(f"/scim/v2{path}", json={}).status_code == 401
    bad = bearer("sscim_" + "A" * 49)
    assert client.get(f"/scim/v2{path}", headers=bad).status_code == 401


def test_locations_follow_the_configured_public_base_url(settings, database, clock, auth_a):
    from starlette.testclient import TestClient

    from sitescim.web.app import create_app

    public = settings.model_copy(update={"public_base_url": "https://scim.example.com/"})
    with TestClient(create_app(public, clock=clock, database=database)) as other:
        body = other.get("/scim/v2/Schemas", headers=auth_a).json()
    assert body["Resources"][0]["meta"]["location"] == (
        f"https://scim.example.com/scim/v2/Schemas/{CORE_USER}"
    )


def test_published_schemas_parse_back_into_scim2_models(client, auth_a):
    """A client building models from /Schemas (as scim2-client does) gets working ones."""
    from scim2_models import ResourceType, Schema, ScimProvider

    schemas = [
        Schema.model_validate(s)
        for s in client.get("/scim/v2/Schemas", headers=auth_a).json()["Resources"]
    ]
    types = [
        ResourceType.model_validate(t)
        for t in client.get("/scim/v2/ResourceTypes", headers=auth_a).json()["Resources"]
    ]
    provider = ScimProvider.from_discovery(schemas, types)
    names = {model.__name__ for model in provider.models}
    assert {"User", "Group", "EnterpriseUser", "SitescimUser"} <= names


def test_search_at_the_server_root_is_not_implemented(client, auth_a):
    response = client.post(
        "/scim/v2/.search",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]},
        headers=auth_a,
    )
    assert response.status_code == 501
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert client.post("/scim/v2/.search", json={}).status_code == 401


@pytest.mark.parametrize(
    ("endpoint", "payload"),
    [
        (
            "/scim/v2/Users",
            lambda n: {"schemas": [CORE_USER], "userName": f"paged{n}@example.com"},
        ),
        (
            "/scim/v2/Groups",
            lambda n: {"schemas": [CORE_GROUP], "displayName": f"Paged {n}"},
        ),
    ],
    ids=["Users", "Groups"],
)
def test_lists_honour_the_declared_default_page_size(client, auth_a, endpoint, payload):
    """ServiceProviderConfig.pagination.defaultPageSize is what a list without count gets."""
    declared = client.get("/scim/v2/ServiceProviderConfig", headers=auth_a).json()["pagination"]
    page_size = declared["defaultPageSize"]
    existing = client.get(endpoint, params={"count": 0}, headers=auth_a).json()["totalResults"]
    for n in range(page_size + 1 - existing):
        created = client.post(endpoint, json=payload(n), headers=auth_a)
        assert created.status_code == 201, created.text
    listed = client.get(endpoint, headers=auth_a).json()
    assert listed["totalResults"] == max(existing, page_size + 1)
    assert listed["itemsPerPage"] == page_size
    assert len(listed["Resources"]) == page_size
