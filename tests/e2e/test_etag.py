"""Versioning with ETags: RFC 7644 §3.14 (weak ETags, If-Match, If-None-Match)."""

import re

from conftest import PATCH_URN, assert_error, new_user, resources

WEAK = re.compile(r'^W/"[^"]+"$')


def test_post_etag_is_weak_and_equals_meta_version(scim):
    r = scim.post("/Users", new_user())
    assert r.status == 201
    assert WEAK.match(r.headers["etag"]), r.headers["etag"]
    assert r.json["meta"]["version"] == r.headers["etag"]


def test_get_does_not_change_version(scim):
    u = scim.create_user()
    a = scim.get(f"/Users/{u['id']}")
    b = scim.get(f"/Users/{u['id']}")
    assert a.headers["etag"] == b.headers["etag"] == u["meta"]["version"]


def test_each_write_changes_version(scim):
    u = scim.create_user()
    seen = {u["meta"]["version"]}
    for i in range(3):
        r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": f"t{i}"}])
        assert r.status == 200
        assert r.headers["etag"] not in seen
        seen.add(r.headers["etag"])
    r = scim.put(f"/Users/{u['id']}", new_user(userName=u["userName"]))
    assert r.status == 200 and r.headers["etag"] not in seen


def test_if_none_match_is_a_list_of_whole_tags(scim):
    # RFC 9110 §13.1.2: a comma-separated list, weak comparison; never a substring search.
    u = scim.create_user()
    version = u["meta"]["version"]
    opaque = version[2:]  # '"n"' of 'W/"n"'
    for value in [f'W/"nope", {version}', f'"nope",{opaque}', "*"]:
        r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": value})
        assert r.status == 304, (value, r)
    for value in [f'W/"1{opaque[1:-1]}1"', f"x{opaque}x", f'W/"nope"']:
        r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": value})
        assert r.status == 200, (value, r)
        r = scim.get(f"/Users/{u['id']}", params={"attributes": "userName"},
                     headers={"If-None-Match": value})
        assert r.status == 200, (value, r)


def test_if_none_match_equal_304(scim):
    u = scim.create_user()
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": u["meta"]["version"]})
    assert r.status == 304, r
    assert not r.body
    assert r.headers.get("etag") == u["meta"]["version"]


def test_if_none_match_different_200(scim):
    u = scim.create_user()
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": 'W/"not-the-version"'})
    assert r.status == 200, r
    assert r.json["id"] == u["id"]


def test_if_none_match_after_change_200(scim):
    u = scim.create_user()
    old = u["meta"]["version"]
    scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "x"}])
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": old})
    assert r.status == 200 and r.json["title"] == "x"


def test_put_if_match_current_succeeds_stale_412(scim):
    u = scim.create_user()
    v1 = u["meta"]["version"]
    r = scim.put(f"/Users/{u['id']}", new_user(userName=u["userName"], title="one"),
                 headers={"If-Match": v1})
    assert r.status == 200, r
    r = scim.put(f"/Users/{u['id']}", new_user(userName=u["userName"], title="two"),
                 headers={"If-Match": v1})
    assert_error(r, 412)
    assert scim.get(f"/Users/{u['id']}").json["title"] == "one"


def test_patch_if_match_stale_412(scim):
    u = scim.create_user(title="orig")
    scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "nickName", "value": "n"}])
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "lost"}],
                       headers={"If-Match": u["meta"]["version"]})
    assert_error(r, 412)
    assert scim.get(f"/Users/{u['id']}").json["title"] == "orig"


def test_patch_if_match_current_ok(scim):
    u = scim.create_user()
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "ok"}],
                       headers={"If-Match": u["meta"]["version"]})
    assert r.status == 200, r


def test_delete_if_match_stale_412(scim):
    u = scim.create_user()
    scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "x"}])
    r = scim.delete(f"/Users/{u['id']}", headers={"If-Match": u["meta"]["version"]})
    assert_error(r, 412)
    assert scim.get(f"/Users/{u['id']}").status == 200


def test_delete_if_match_current_204(scim):
    u = scim.create_user()
    r = scim.delete(f"/Users/{u['id']}", headers={"If-Match": u["meta"]["version"]})
    assert r.status == 204, r
    assert scim.get(f"/Users/{u['id']}").status == 404


def test_if_match_star(scim):
    u = scim.create_user()
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "s"}],
                       headers={"If-Match": "*"})
    assert r.status == 200, r


def test_if_match_strong_form_of_same_tag(scim):
    # RFC 7232 §2.3.2 weak comparison: W/"x" and "x" match for If-None-Match; for If-Match we only
    # require that the exact value we handed out works (checked above) and that a list works.
    u = scim.create_user()
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "l"}],
                       headers={"If-Match": f'W/"nope", {u["meta"]["version"]}'})
    assert r.status == 200, r


def test_group_version_changes_with_membership(scim):
    a = scim.create_user()
    g = scim.create_group()
    r = scim.patch_ops(f"/Groups/{g['id']}", [{"op": "add", "path": "members", "value": [{"value": a["id"]}]}])
    assert r.status in (200, 204), r  # RFC 7644 §3.5.2 allows 204 for PATCH
    assert scim.get(f"/Groups/{g['id']}").headers["etag"] != g["meta"]["version"]
    r = scim.patch(f"/Groups/{g['id']}", {"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "path": "displayName", "value": "stale"}]}, headers={"If-Match": g["meta"]["version"]})
    assert_error(r, 412)


def test_group_if_none_match_304(scim):
    g = scim.create_group()
    r = scim.get(f"/Groups/{g['id']}", headers={"If-None-Match": g["meta"]["version"]})
    assert r.status == 304, r


def test_list_resources_carry_version(scim):
    u = scim.create_user()
    (got,) = resources(scim.filter("/Users", f'id eq "{u["id"]}"'))
    assert got["meta"]["version"] == u["meta"]["version"]
