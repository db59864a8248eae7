"""Discovery endpoints: RFC 7644 §4 and RFC 7643 §5-7."""

import urllib.parse

from conftest import (
    ENTERPRISE_URN,
    GROUP_URN,
    SPC_URN,
    USER_URN,
    assert_error,
    assert_list_response,
    assert_scim_json,
    resources,
)


def _no_nulls(value, where="$"):
    """Entra's validator rejects nulls in discovery documents (IDP-QUIRKS E-18)."""
    if value is None:
        raise AssertionError(f"null at {where}")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nulls(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_nulls(v, f"{where}[{i}]")


def test_service_provider_config(scim):
    r = scim.get("/ServiceProviderConfig")
    assert r.status == 200, r
    assert_scim_json(r)
    spc = r.json
    assert SPC_URN in spc["schemas"]
    assert spc["patch"]["supported"] is True
    assert spc["bulk"]["supported"] is True
    assert isinstance(spc["bulk"]["maxOperations"], int) and spc["bulk"]["maxOperations"] > 0
    assert isinstance(spc["bulk"]["maxPayloadSize"], int) and spc["bulk"]["maxPayloadSize"] > 0
    assert spc["filter"]["supported"] is True
    assert isinstance(spc["filter"]["maxResults"], int) and spc["filter"]["maxResults"] > 0
    assert spc["sort"]["supported"] is True
    assert spc["etag"]["supported"] is True
    assert isinstance(spc["changePassword"]["supported"], bool)
    schemes = spc["authenticationSchemes"]
    assert isinstance(schemes, list) and schemes, spc
    assert any(s.get("type", "").lower() == "oauthbearertoken" for s in schemes), schemes
    _no_nulls(spc)


def test_service_provider_config_has_no_id_and_meta_resource_type(scim):
    # RFC 7643 §5: "id" is not used on ServiceProviderConfig; meta.resourceType names it.
    r = scim.get("/ServiceProviderConfig")
    assert r.status == 200
    meta = r.json.get("meta", {})
    if meta:
        assert meta.get("resourceType") == "ServiceProviderConfig", meta


def test_resource_types_list(scim):
    body = assert_list_response(scim.get("/ResourceTypes"))
    by_id = {rt["id"]: rt for rt in resources(body)}
    assert {"User", "Group"} <= set(by_id), by_id.keys()
    assert body["totalResults"] == len(resources(body))
    user = by_id["User"]
    assert user["endpoint"] == "/Users"
    assert user["schema"] == USER_URN
    ext = {e["schema"]: e for e in user.get("schemaExtensions", [])}
    assert ENTERPRISE_URN in ext, user
    assert ext[ENTERPRISE_URN]["required"] is False
    group = by_id["Group"]
    assert group["endpoint"] == "/Groups"
    assert group["schema"] == GROUP_URN
    _no_nulls(body)


def test_resource_type_user_by_id(scim):
    r = scim.get("/ResourceTypes/User")
    assert r.status == 200, r
    assert_scim_json(r)
    assert r.json["id"] == "User"
    assert r.json["endpoint"] == "/Users"
    assert "urn:ietf:params:scim:schemas:core:2.0:ResourceType" in r.json["schemas"]


def test_resource_type_group_by_id(scim):
    r = scim.get("/ResourceTypes/Group")
    assert r.status == 200, r
    assert r.json["id"] == "Group"


def test_resource_type_unknown_404(scim):
    assert_error(scim.get("/ResourceTypes/Printer"), 404)


def test_schemas_list(scim):
    body = assert_list_response(scim.get("/Schemas"))
    ids = {s["id"] for s in resources(body)}
    assert {USER_URN, GROUP_URN, ENTERPRISE_URN} <= ids, ids
    _no_nulls(body)
    # camelCase characteristics as RFC 7643 §7 spells them (Entra checks this, E-18).
    allowed_mut = {"readOnly", "readWrite", "immutable", "writeOnly"}
    allowed_ret = {"always", "never", "default", "request"}
    allowed_uniq = {"none", "server", "global"}

    def check(attrs, where):
        for a in attrs:
            assert a["mutability"] in allowed_mut, (where, a)
            assert a["returned"] in allowed_ret, (where, a)
            if "uniqueness" in a:
                assert a["uniqueness"] in allowed_uniq, (where, a)
            assert isinstance(a["multiValued"], bool)
            assert isinstance(a["required"], bool)
            check(a.get("subAttributes", []), where + "." + a["name"])

    for s in resources(body):
        check(s["attributes"], s["id"])


def test_schema_user_attributes(scim):
    r = scim.get("/Schemas/" + USER_URN)
    assert r.status == 200, r
    assert_scim_json(r)
    assert r.json["id"] == USER_URN
    attrs = {a["name"]: a for a in r.json["attributes"]}
    assert attrs["userName"]["required"] is True
    assert attrs["userName"]["uniqueness"] == "server"
    assert attrs["userName"]["caseExact"] is False
    assert attrs["password"]["returned"] == "never"
    assert attrs["password"]["mutability"] == "writeOnly"
    assert attrs["groups"]["mutability"] == "readOnly"
    assert attrs["emails"]["multiValued"] is True


def test_schema_by_percent_encoded_urn(scim):
    r = scim.get("/Schemas/" + urllib.parse.quote(ENTERPRISE_URN, safe=""))
    assert r.status == 200, r
    assert r.json["id"] == ENTERPRISE_URN
    names = {a["name"] for a in r.json["attributes"]}
    assert {"employeeNumber", "department", "manager"} <= names


def test_schema_unknown_404(scim):
    assert_error(scim.get("/Schemas/urn:example:nope"), 404)


def test_me_not_implemented(scim):
    assert_error(scim.get("/Me"), 501)


def test_discovery_unknown_query_params_ignored(scim):
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        r = scim.get(path, params={"aadOptscim062020": None, "foo": "bar"})
        assert r.status == 200, (path, r)
