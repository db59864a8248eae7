"""The admin API's user search (GET /api/v1/directories/{d}/user-search), the console explorer's
search: each criterion, combinations, keyset paging with the `after` cursor, and bad parameters.
Responses are validated against the OpenAPI document (the operation is tagged "explorer", so
test_admin_api.py leaves it to this module)."""

import pytest

import test_admin_api as adm
from conftest import Scim, cli_json, uniq

RECORDED = []


class Api(adm.Admin):
    def call(self, *args, **kw):
        before = len(adm.RECORDED)
        r = super().call(*args, **kw)
        RECORDED.extend(adm.RECORDED[before:])
        return r


@pytest.fixture(scope="module")
def api(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    return Api(server.url, info["token"])


@pytest.fixture(scope="module")
def world(server, api):
    """A directory with 12 users: names u00..u11 (e-mail <name>@<domain>), the even ones in
    group Evens, every third one disabled; plus one named zed@other.test."""
    directory = uniq("d").lower()
    adm.ok(api.post("/directories", {"name": directory}), 201)
    c = adm.ok(api.post("/connections", {"name": uniq("c"), "directory": directory}), 201)
    scim = Scim(server.scim_base, c["token"])
    users = {}
    for i in range(12):
        name = f"u{i:02d}"
        u = scim.create_user(userName=name, active=(i % 3 != 0),
                             emails=[{"value": f"{name}@{'even' if i % 2 == 0 else 'odd'}.test",
                                      "primary": True}])
        users[name] = u
    scim.create_user(userName="zed", emails=[{"value": "zed@other.test", "primary": True}])
    scim.create_group(display_name="Evens",
                      members=[users[f"u{i:02d}"]["id"] for i in range(0, 12, 2)])
    return directory


def search(api, directory, **params):
    return adm.ok(api.get(f"/directories/{directory}/user-search", params=params))


def names(page):
    return sorted(u["userName"] for u in page["users"])


def all_pages(api, directory, **params):
    """Every page by following `next`; returns (names in order, number of pages)."""
    seen, after, pages = [], None, 0
    while True:
        p = dict(params)
        if after:
            p["after"] = after
        page = search(api, directory, **p)
        pages += 1
        seen += [u["userName"] for u in page["users"]]
        after = page["next"]
        if not after:
            return seen, pages
        assert pages < 50


EVEN = [f"u{i:02d}" for i in range(0, 12, 2)]
DISABLED = [f"u{i:02d}" for i in range(0, 12, 3)]


def test_each_criterion_uses_its_index(api, world):
    everyone = search(api, world, count=200)
    assert everyone["index"] == "userName" and everyone["next"] is None
    assert [u["userName"] for u in everyone["users"]] == [f"u{i:02d}" for i in range(12)] + ["zed"]

    by_name = search(api, world, name="U1")  # a prefix, case ignored
    assert by_name["index"] == "userName" and names(by_name) == ["u10", "u11"]
    by_mail = search(api, world, email="ZED@")
    assert by_mail["index"] == "email" and names(by_mail) == ["zed"]
    by_group = search(api, world, group="evens")
    assert by_group["index"] == "group" and names(by_group) == EVEN
    by_state = search(api, world, state="disabled")
    assert by_state["index"] == "state" and names(by_state) == DISABLED
    assert names(search(api, world, state="active")) == sorted(
        [f"u{i:02d}" for i in range(12) if i % 3] + ["zed"])
    assert search(api, world, name="nobody")["users"] == []
    user = by_mail["users"][0]
    assert user["emails"][0]["value"] == "zed@other.test" and user["active"] is True


def test_combinations_apply_the_other_criteria_to_each_row(api, world):
    # group drives, state is checked per row
    page = search(api, world, group="Evens", state="disabled")
    assert page["index"] == "group" and names(page) == ["u00", "u06"]
    # e-mail drives, group and state per row
    page = search(api, world, email="u0", group="Evens", state="active")
    assert page["index"] == "email" and names(page) == ["u02", "u04", "u08"]
    # name drives, e-mail per row
    page = search(api, world, name="u", email="u03@odd")
    assert page["index"] == "email" and names(page) == ["u03"]
    page = search(api, world, name="u1", state="disabled")
    assert page["index"] == "userName" and names(page) == []
    page = search(api, world, name="u0", state="disabled")
    assert names(page) == ["u00", "u03", "u06", "u09"]


@pytest.mark.parametrize("params", [{}, {"state": "active"}, {"group": "Evens"},
                                    {"email": "u"}, {"name": "u", "state": "active"}])
def test_paging_with_the_cursor_returns_each_user_once(api, world, params):
    whole = search(api, world, count=200, **params)
    seen, pages = all_pages(api, world, count=2, **params)
    assert seen == [u["userName"] for u in whole["users"]], params
    assert len(seen) == len(set(seen)) and pages == max(1, (len(seen) + 1) // 2), pages


def test_bad_parameters_are_refused_with_a_clear_message(api, world):
    base = f"/directories/{world}/user-search"
    adm.assert_api_error(api.get(base, params={"state": "gone"}), 400, "invalid_value",
                         mentions="state")
    adm.assert_api_error(api.get(base, params={"count": "0"}), 400, "invalid_value",
                         mentions="count")
    adm.assert_api_error(api.get(base, params={"filter": "x"}), 400, "invalid_value",
                         mentions="filter")
    adm.assert_api_error(api.get(base, params={"group": "No Such"}), 400, "invalid_value",
                         mentions="No Such")
    adm.assert_api_error(api.get(base, params={"after": "%%%"}), 400, "invalid_value",
                         mentions="after")
    # a cursor of another search (group order) does not resume a username search
    cursor = search(api, world, group="Evens", count=1)["next"]
    adm.assert_api_error(api.get(base, params={"after": cursor}), 400, "invalid_value",
                         mentions="after")
    adm.assert_api_error(api.get("/directories/no-such-dir/user-search"), 404, "not_found")
    adm.assert_api_error(api.post(base, {}), 405, "method_not_allowed")


def test_responses_match_openapi():
    if not RECORDED:
        pytest.skip("no responses were recorded (run the whole module)")
    doc = adm._load_openapi()
    templates = adm._templates(doc)
    problems = []
    for method, path, body, resp in RECORDED:
        _, found = adm._check(doc, templates, method, path, body, resp)
        problems += found
    assert not problems, "\n".join(problems[:50])
