"""Group names are unique per connection (issue #11 item 8), from the identity provider's side.

Entra ID documents that a group's displayName must be unique and finds groups by
`displayName eq "..."`; authentik and others take over an existing group only after a 409.
A POST, or a rename by PUT or PATCH, to a displayName another group of the same connection holds
(compared case-insensitively) answers 409 `uniqueness`, and the lookup then finds exactly one.
Same-named groups of different connections still map to one local group, by design.
"""

import threading

from conftest import (
    GROUP_URN,
    Scim,
    assert_error,
    cli_json,
    resources,
    uniq,
)


def by_display_name(client, name):
    r = client.get("/Groups", params={"filter": f'displayName eq "{name}"'})
    assert r.status == 200, r
    return resources(r.json)


def test_entra_pattern_post_409_then_filter_finds_one(make_scim):
    idp = make_scim()
    alice = idp.create_user()
    name = uniq("Design Team")
    first = idp.create_group(display_name=name, members=[alice["id"]])
    # The identity provider retries the create (or a second app assignment sends it again),
    # with the name in other letter case.
    r = idp.post("/Groups", {"schemas": [GROUP_URN], "displayName": name.upper()})
    body = assert_error(r, 409, "uniqueness")
    assert first["id"] in body["detail"], body
    # Then it looks the group up by name, and takes it over.
    found = by_display_name(idp, name)
    assert [g["id"] for g in found] == [first["id"]], found
    assert [m["value"] for m in found[0]["members"]] == [alice["id"]]


def test_rename_onto_a_taken_name_is_refused_by_put_and_patch(make_scim):
    idp = make_scim()
    taken = idp.create_group(display_name=uniq("Finance"))
    other = idp.create_group(display_name=uniq("Legal"))
    r = idp.put(f"/Groups/{other['id']}", {"schemas": [GROUP_URN],
                                          "displayName": taken["displayName"].lower()})
    assert_error(r, 409, "uniqueness")
    r = idp.patch_ops(f"/Groups/{other['id']}",
                      [{"op": "replace", "path": "displayName", "value": taken["displayName"]}])
    assert_error(r, 409, "uniqueness")
    # Entra's PATCH form without a path.
    r = idp.patch_ops(f"/Groups/{other['id']}",
                      [{"op": "replace", "value": {"displayName": taken["displayName"]}}])
    assert_error(r, 409, "uniqueness")
    # Nothing changed, and each name is found once.
    assert idp.get(f"/Groups/{other['id']}").json["displayName"] == other["displayName"]
    assert len(by_display_name(idp, taken["displayName"])) == 1
    # A group may change the letter case of its own name, and free names stay free.
    r = idp.patch_ops(f"/Groups/{taken['id']}",
                      [{"op": "replace", "path": "displayName",
                        "value": taken["displayName"].upper()}])
    assert r.status in (200, 204), r
    renamed = uniq("Legal and Compliance")
    r = idp.put(f"/Groups/{other['id']}", {"schemas": [GROUP_URN], "displayName": renamed})
    assert r.status == 200, r
    # The old name is free again.
    again = idp.post("/Groups", {"schemas": [GROUP_URN], "displayName": other["displayName"]})
    assert again.status == 201, again


def test_same_name_in_two_connections_is_one_local_group(idsync_bin, server, make_scim):
    entra, okta = make_scim(), make_scim()
    name = uniq("Support")
    a = entra.create_user()
    b = okta.create_user()
    ga = entra.create_group(display_name=name, members=[a["id"]])
    gb = okta.create_group(display_name=name, members=[b["id"]])
    assert ga["id"] != gb["id"]
    token = cli_json(idsync_bin, "read-token", "add", uniq("app"), "--directory", "users",
                     "--data", server.data_dir, "--json")["token"]
    read = Scim(server.scim_base[: -len("/scim/v2")] + "/directory/v2/users", token)
    found = by_display_name(read, name)
    assert len(found) == 1, found
    assert len(found[0].get("members", [])) == 2, found  # both connections' members


def test_concurrent_creates_of_one_name_leave_exactly_one_group(make_scim):
    """Two jobs of an identity provider racing (or two retries in flight): the check and the
    write are one step on the single writer, so exactly one create wins."""
    idp = make_scim()
    name = uniq("Race")
    statuses = []
    lock = threading.Lock()

    def create(i):
        # Different letter case per request: the rule compares case-insensitively.
        r = idp.post("/Groups", {"schemas": [GROUP_URN],
                                 "displayName": name.upper() if i % 2 else name})
        with lock:
            statuses.append(r.status)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 11, statuses
    assert len(by_display_name(idp, name)) == 1
