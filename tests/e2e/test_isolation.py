"""Connections are isolated: a token sees and touches only its own connection's resources."""

import pytest

from conftest import (
    BULK_REQ_URN,
    GROUP_URN,
    PATCH_URN,
    SEARCH_URN,
    assert_error,
    new_user,
    resources,
    uniq,
)


@pytest.fixture
def pair(make_scim):
    return make_scim(), make_scim()


def test_same_username_in_two_connections(pair):
    a, b = pair
    name = uniq("shared") + "@example.com"
    ua = a.create_user(userName=name)
    r = b.post("/Users", new_user(userName=name))
    assert r.status == 201, r  # uniqueness is per connection
    assert r.json["id"] != ua["id"]
    fa = a.filter("/Users", f'userName eq "{name}"')
    fb = b.filter("/Users", f'userName eq "{name}"')
    assert [u["id"] for u in resources(fa)] == [ua["id"]]
    assert [u["id"] for u in resources(fb)] == [r.json["id"]]


def test_other_connections_user_is_404(pair):
    a, b = pair
    u = a.create_user(title="mine")
    assert_error(b.get(f"/Users/{u['id']}"), 404)
    assert_error(b.put(f"/Users/{u['id']}", new_user(userName=u["userName"])), 404)
    assert_error(b.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "x"}]), 404)
    assert_error(b.delete(f"/Users/{u['id']}"), 404)
    got = a.get(f"/Users/{u['id']}")
    assert got.status == 200 and got.json["title"] == "mine"


def test_other_connections_group_is_404(pair):
    a, b = pair
    g = a.create_group()
    assert_error(b.get(f"/Groups/{g['id']}"), 404)
    assert_error(b.patch_ops(f"/Groups/{g['id']}", [{"op": "replace", "path": "displayName", "value": "x"}]), 404)
    assert_error(b.delete(f"/Groups/{g['id']}"), 404)
    assert a.get(f"/Groups/{g['id']}").status == 200


def test_lists_and_filters_never_cross(pair):
    a, b = pair
    ids_a = {a.create_user()["id"] for _ in range(3)}
    ids_b = {b.create_user()["id"] for _ in range(2)}
    la = a.list("/Users")
    lb = b.list("/Users")
    assert {u["id"] for u in resources(la)} == ids_a and la["totalResults"] == 3
    assert {u["id"] for u in resources(lb)} == ids_b and lb["totalResults"] == 2
    for uid in ids_a:
        assert b.filter("/Users", f'id eq "{uid}"')["totalResults"] == 0
    assert b.filter("/Users", "userName pr")["totalResults"] == 2
    s = b.post("/.search", {"schemas": [SEARCH_URN], "filter": "meta.resourceType pr"})
    if s.status == 200:
        assert not ({x["id"] for x in resources(s.json)} & ids_a)
    s = b.post("/Users/.search", {"schemas": [SEARCH_URN]})
    assert s.status == 200 and {x["id"] for x in resources(s.json)} == ids_b


def test_cannot_add_other_connections_user_to_group(pair):
    a, b = pair
    ua = a.create_user()
    gb = b.create_group()
    r = b.patch_ops(f"/Groups/{gb['id']}", [{"op": "add", "path": "members", "value": [{"value": ua["id"]}]}])
    # Either rejected, or the foreign id is not a member. Never a cross-connection link.
    if r.status in (200, 204):
        assert ua["id"] not in b.member_ids(gb["id"])
    else:
        assert_error(r, r.status)
        assert 400 <= r.status < 500
    assert not a.get(f"/Users/{ua['id']}").json.get("groups")
    r = b.post("/Groups", {"schemas": [GROUP_URN], "displayName": uniq("x"), "members": [{"value": ua["id"]}]})
    if r.status == 201:
        assert ua["id"] not in b.member_ids(r.json["id"])
    assert not a.get(f"/Users/{ua['id']}").json.get("groups")


def test_bulk_cannot_touch_other_connection(pair):
    a, b = pair
    ua = a.create_user(title="safe")
    r = b.post("/Bulk", {"schemas": [BULK_REQ_URN], "Operations": [
        {"method": "DELETE", "path": f"/Users/{ua['id']}"},
        {"method": "PATCH", "path": f"/Users/{ua['id']}", "data": {
            "schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": "pwned"}]}},
    ]})
    assert r.status == 200, r
    assert [o["status"] for o in r.json["Operations"]] == ["404", "404"]
    got = a.get(f"/Users/{ua['id']}")
    assert got.status == 200 and got.json["title"] == "safe"


def test_group_names_do_not_collide(pair):
    a, b = pair
    name = uniq("Everyone")
    a.create_group(display_name=name)
    r = b.post("/Groups", {"schemas": [GROUP_URN], "displayName": name})
    assert r.status == 201, r
    assert b.filter("/Groups", f'displayName eq "{name}"')["totalResults"] == 1


def test_customers_directory_connection_is_isolated(make_scim):
    users_conn = make_scim()
    cust = make_scim(directory="customers")
    assert cust.conn["directory"] == "customers"
    u = users_conn.create_user()
    r = cust.post("/Users", new_user(userName=u["userName"]))
    assert r.status == 201, r
    assert_error(cust.get(f"/Users/{u['id']}"), 404)
    assert cust.list("/Users")["totalResults"] == 1


def test_tokens_are_distinct(pair):
    a, b = pair
    assert a.token != b.token
    assert a.conn["id"] != b.conn["id"]
