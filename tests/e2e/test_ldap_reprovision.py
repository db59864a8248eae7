"""Re-provisioning from LDAP (issue #11, item 1): an entry deleted from the directory, synced
(the person is disabled), then created again with the same username (a new entryUUID) comes
back as the same effective user, re-enabled, with its groups derived again. Against the real
slapd fixture."""
import pytest

from conftest import cli_json, uniq
from ldap_fixture import add_cli, start_slapd


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    s = start_slapd(idsync_bin, users=5)
    yield s
    s.close()


def person(slapd, uid, cn):
    return (f"dn: uid={uid},{slapd.info['people_dn']}\nchangetype: add\n"
            f"objectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn}\n"
            f"mail: {uid}@example.com\n")


def sync(idsync_bin, data, name, full=False):
    run = cli_json(idsync_bin, "sync", name, *(["--full"] if full else []), "--data", data, "--json")
    assert run["outcome"] == "succeeded", run
    return run


def test_entry_deleted_then_created_again_is_the_same_person(idsync_bin, server, slapd, tmp_path):
    data = server.data_dir
    name = uniq("ldap-rehire")
    add_cli(idsync_bin, data, slapd, name)
    uid = uniq("rehire")
    group_dn = f"cn=staff,{slapd.info['groups_dn']}"
    slapd.apply(tmp_path, person(slapd, uid, "Before"))
    slapd.apply(tmp_path, f"dn: {group_dn}\nchangetype: modify\nadd: member\n"
                          f"member: uid={uid},{slapd.info['people_dn']}\n")
    sync(idsync_bin, data, name, full=True)
    before = cli_json(idsync_bin, "explain", uid, "--data", data, "--json")
    assert before["state"] == "active"
    assert "staff" in [m["group"] for m in before["memberships"]]

    slapd.apply(tmp_path, f"dn: uid={uid},{slapd.info['people_dn']}\nchangetype: delete\n")
    run = sync(idsync_bin, data, name, full=True)
    assert run["counts"]["disabled"] == 1, run  # on_delete: disable (the default)
    gone = cli_json(idsync_bin, "explain", uid, "--data", data, "--json")
    assert gone["id"] == before["id"] and gone["state"] == "disabled"

    slapd.apply(tmp_path, person(slapd, uid, "After"))
    sync(idsync_bin, data, name)
    back = cli_json(idsync_bin, "explain", uid, "--data", data, "--json")
    assert back["id"] == before["id"], "the same effective user, not a conflict with a new one"
    assert back["state"] == "active"
    assert back["attributes"]["displayName"]["value"] == "After"
    assert "staff" in [m["group"] for m in back["memberships"]]
    assert [s["deleted"] for s in back["sources"]] == [False]
    assert back["sources"][0]["source_user"] != before["sources"][0]["source_user"]
    listed = cli_json(idsync_bin, "conflicts", "--data", data, "--json")
    assert not [c for c in listed if c["username"] == uid], listed
    r = cli_json(idsync_bin, "rederive", "--data", data, "--json")
    assert all(v == 0 for k, v in r["applied"].items() if k != "conflicts"), r
