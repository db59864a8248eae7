"""Filtering, sorting, paging, projection and .search: RFC 7644 §3.4.2 and §3.4.3.

One connection per module holds a fixed population, so the expected sets are exact.
"""

import pytest

from conftest import (
    ENTERPRISE_URN,
    GROUP_URN,
    SEARCH_URN,
    USER_URN,
    Scim,
    add_connection,
    assert_error,
    assert_list_response,
    resources,
)

# name, given, family, title, active, emails [(type, value)], enterprise
PEOPLE = [
    ("alice@example.com", "Alice", "Adams", "Engineer", True,
     [("work", "alice@example.com"), ("home", "alice@home.org")], {"employeeNumber": "1001", "department": "R&D"}),
    ("bob@example.com", "Bob", "Brown", "Manager", False,
     [("work", "bob@example.com")], {"employeeNumber": "1002", "department": "Sales"}),
    ("carol@example.org", "Carol", "Clark", "Engineer", True,
     [("work", "carol@example.org"), ("home", "carol@home.org")], {"department": "R&D"}),
    ("dave@example.net", "Dave", "Davis", None, True, [], None),
    ("eve@example.com", "Eve", "Evans", "Director", False, [("work", "eve@example.com")], None),
    ("frank@example.org", "Frank", "Foster", "Engineer", True,
     [("work", "frank@example.org"), ("home", "frank@home.org")], None),
    ("grace@example.com", "Grace", "Green", "Engineer", False, [("work", "grace@example.com")], None),
    ("heidi@example.net", "Heidi", "Hill", "Director", True, [("work", "heidi@example.net")], None),
    ("ivan@example.com", "Ivan", "Irwin", "Manager", True, [("home", "ivan@home.org")], None),
    ("judy@example.org", "Judy", "Jones", None, False, [], None),
    ("mallory@example.com", "Mallory", "Moore", "Engineer", True, [("work", "mallory@example.com")], None),
    ("oscar@example.net", "Oscar", "Owens", "Intern", True, [("work", "oscar@example.net")], None),
]
ALL = {p[0].split("@")[0] for p in PEOPLE}
ESCAPED_NICK = 'O"Neil \\ x'


class Population:
    def __init__(self, scim):
        self.scim = scim
        self.ids = {}  # short name -> id
        self.groups = {}


@pytest.fixture(scope="module")
def pop(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    p = Population(scim)
    for name, given, family, title, active, emails, ent in PEOPLE:
        body = {"schemas": [USER_URN], "userName": name,
                "name": {"givenName": given, "familyName": family},
                "displayName": f"{given} {family}", "active": active}
        if title:
            body["title"] = title
        if emails:
            body["emails"] = [{"type": t, "value": v} for t, v in emails]
        if ent:
            body["schemas"].append(ENTERPRISE_URN)
            body[ENTERPRISE_URN] = ent
        if given == "Oscar":
            body["nickName"] = ESCAPED_NICK
        r = scim.post("/Users", body)
        assert r.status == 201, r
        p.ids[name.split("@")[0]] = r.json["id"]
    for gname, members in (("Admins", ["alice", "bob"]), ("Staff", ["alice", "carol", "dave"]),
                           ("Empty", [])):
        body = {"schemas": [GROUP_URN], "displayName": gname}
        if members:
            body["members"] = [{"value": p.ids[m]} for m in members]
        r = scim.post("/Groups", body)
        assert r.status == 201, r
        p.groups[gname] = r.json["id"]
    return p


def short(body):
    return {u["userName"].split("@")[0] for u in resources(body)}


def users(pop, flt, **params):
    params["filter"] = flt
    r = pop.scim.get("/Users", params=params)
    body = assert_list_response(r)
    got = short(body)
    assert body["totalResults"] == len(resources(body)), body  # no paging here
    return got


@pytest.mark.parametrize("flt,expected", [
    ('userName eq "alice@example.com"', {"alice"}),
    ('userName eq "ALICE@Example.COM"', {"alice"}),  # caseExact=false (RFC 7643 §4.1.1)
    ('userName ne "alice@example.com"', ALL - {"alice"}),
    ('userName co "example.org"', {"carol", "frank", "judy"}),
    ('userName co "EXAMPLE.ORG"', {"carol", "frank", "judy"}),
    ('userName sw "a"', {"alice"}),
    ('userName sw "JU"', {"judy"}),
    ('userName ew ".net"', {"dave", "heidi", "oscar"}),
    ('title pr', ALL - {"dave", "judy"}),
    ('emails pr', ALL - {"dave", "judy"}),
    ('userName gt "j"', {"judy", "mallory", "oscar"}),
    ('userName ge "judy@example.org"', {"judy", "mallory", "oscar"}),
    ('userName lt "bob"', {"alice"}),
    ('userName le "bob@example.com"', {"alice", "bob"}),
    ('active eq true', {"alice", "carol", "dave", "frank", "heidi", "ivan", "mallory", "oscar"}),
    ('active eq false', {"bob", "eve", "grace", "judy"}),
    ('name.familyName eq "adams"', {"alice"}),
    ('name.givenName sw "C"', {"carol"}),
    ('USERNAME eq "alice@example.com"', {"alice"}),  # attribute names are case-insensitive
    ('Name.FamilyName eq "Brown"', {"bob"}),
    ('userName Eq "alice@example.com"', {"alice"}),  # operators are case-insensitive
    ('title eq "Engineer" and active eq true', {"alice", "carol", "frank", "mallory"}),
    ('title eq "Engineer" or title eq "Director"', {"alice", "carol", "frank", "grace", "mallory", "eve", "heidi"}),
    # RFC 7644 §3.4.2.2: "and" binds tighter than "or".
    ('title eq "Engineer" or title eq "Director" and active eq true',
     {"alice", "carol", "frank", "grace", "mallory", "heidi"}),
    ('active eq true and title eq "Director" or title eq "Engineer"',
     {"alice", "carol", "frank", "grace", "mallory", "heidi"}),
    ('(title eq "Engineer" or title eq "Director") and active eq true',
     {"alice", "carol", "frank", "mallory", "heidi"}),
    # not() of a comparison on an absent attribute is true (no SQL NULL semantics).
    ('not (title eq "Engineer")', ALL - {"alice", "carol", "frank", "grace", "mallory"}),
    ('not (title eq "Engineer") and active eq true', {"dave", "heidi", "ivan", "oscar"}),
    ('title ne "Engineer" and title pr', {"bob", "eve", "heidi", "ivan", "oscar"}),
    ('emails[type eq "work" and value co "example.org"]', {"carol", "frank"}),
    ('emails[type eq "home"]', {"alice", "carol", "frank", "ivan"}),
    ('emails[type eq "home"] and active eq true', {"alice", "carol", "frank", "ivan"}),
    ('emails[type eq "home" and value ew "home.org"] and not (title eq "Manager")', {"alice", "carol", "frank"}),
    ('emails.value ew "home.org"', {"alice", "carol", "frank", "ivan"}),
    ('emails.value eq "bob@example.com"', {"bob"}),
    ('emails.type eq "home" and emails.value co "carol"', {"carol"}),
    (f'{ENTERPRISE_URN}:employeeNumber eq "1001"', {"alice"}),
    (f'{ENTERPRISE_URN}:department eq "R&D"', {"alice", "carol"}),
    ('meta.created gt "2000-01-01T00:00:00Z"', ALL),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', set()),
    ('meta.resourceType eq "User" and userName sw "o"', {"oscar"}),
    ('nickName eq "O\\"Neil \\\\ x"', {"oscar"}),  # JSON string escapes in compValue
    ('userName eq "nobody@example.com"', set()),
    ('((userName eq "alice@example.com"))', {"alice"}),
])
def test_filter(pop, flt, expected):
    assert users(pop, flt) == expected, flt


def test_filter_by_id(pop):
    uid = pop.ids["eve"]
    assert users(pop, f'id eq "{uid}"') == {"eve"}


def test_filter_no_match_is_200_empty(pop):
    r = pop.scim.get("/Users", params={"filter": 'userName eq "ghost@example.com"'})
    body = assert_list_response(r)
    assert body["totalResults"] == 0
    assert resources(body) == []


@pytest.mark.parametrize("flt", [
    'userName eq',
    'userName zz "a"',
    '(userName eq "a"',
    'userName eq "unterminated',
    'userName eq "a" and',
    'emails[type eq "work"',
    'and userName eq "a"',
    'userName eq "a" or or userName eq "b"',
])
def test_invalid_filter_400(pop, flt):
    assert_error(pop.scim.get("/Users", params={"filter": flt}), 400, "invalidFilter")


@pytest.mark.parametrize("flt,expected", [
    ('displayName eq "Admins"', {"Admins"}),
    ('displayName eq "admins"', {"Admins"}),  # Group displayName is caseExact=false
    ('displayName sw "S"', {"Staff"}),
    ('members pr', {"Admins", "Staff"}),
    ('not (members pr)', {"Empty"}),
])
def test_group_filter(pop, flt, expected):
    body = assert_list_response(pop.scim.get("/Groups", params={"filter": flt}))
    assert {g["displayName"] for g in resources(body)} == expected


def test_group_filter_by_member(pop):
    alice, dave = pop.ids["alice"], pop.ids["dave"]
    for flt, expected in ((f'members[value eq "{alice}"]', {"Admins", "Staff"}),
                          (f'members.value eq "{dave}"', {"Staff"}),
                          (f'members.value eq "{pop.ids["oscar"]}"', set())):
        body = assert_list_response(pop.scim.get("/Groups", params={"filter": flt}))
        assert {g["displayName"] for g in resources(body)} == expected, flt


def test_sort_by_username_ascending_default(pop):
    body = pop.scim.list("/Users", sortBy="userName")
    names = [u["userName"] for u in resources(body)]
    assert names == sorted(names) and len(names) == len(PEOPLE)


def test_sort_by_username_descending(pop):
    body = pop.scim.list("/Users", sortBy="userName", sortOrder="descending")
    names = [u["userName"] for u in resources(body)]
    assert names == sorted(names, reverse=True)


def test_sort_by_sub_attribute(pop):
    body = pop.scim.list("/Users", sortBy="name.familyName", sortOrder="ascending")
    fam = [u["name"]["familyName"] for u in resources(body)]
    assert fam == sorted(fam)
    body = pop.scim.list("/Users", sortBy="name.givenName", sortOrder="descending",
                         filter="active eq true")
    given = [u["name"]["givenName"] for u in resources(body)]
    assert given == ["Oscar", "Mallory", "Ivan", "Heidi", "Frank", "Dave", "Carol", "Alice"]


def test_sort_groups_by_display_name(pop):
    body = pop.scim.list("/Groups", sortBy="displayName", sortOrder="descending")
    assert [g["displayName"] for g in resources(body)] == ["Staff", "Empty", "Admins"]


def test_paging_pages_partition_results(pop):
    seen = []
    for start in (1, 6, 11):
        body = pop.scim.list("/Users", startIndex=start, count=5, sortBy="userName")
        assert body["totalResults"] == len(PEOPLE)
        assert body["startIndex"] == start
        assert body["itemsPerPage"] == len(resources(body))
        seen += [u["userName"] for u in resources(body)]
    assert len(seen) == len(PEOPLE)
    assert seen == sorted(p[0] for p in PEOPLE)


def test_paging_default_order_is_stable(pop):
    def walk():
        out = []
        for start in (1, 4, 7, 10, 13):
            out += [u["id"] for u in resources(pop.scim.list("/Users", startIndex=start, count=3))]
        return out
    first = walk()
    assert len(first) == len(set(first)) == len(PEOPLE)
    assert walk() == first


def test_paging_beyond_end(pop):
    body = pop.scim.list("/Users", startIndex=100, count=5)
    assert body["totalResults"] == len(PEOPLE)
    assert resources(body) == []


def test_paging_start_index_below_one_is_one(pop):
    # RFC 7644 §3.4.2.4: "A value less than 1 SHALL be interpreted as 1."
    a = pop.scim.list("/Users", startIndex=0, count=3, sortBy="userName")
    b = pop.scim.list("/Users", startIndex=1, count=3, sortBy="userName")
    assert [u["id"] for u in resources(a)] == [u["id"] for u in resources(b)]
    assert a.get("startIndex", 1) == 1


def test_count_zero_returns_total_only(pop):
    body = pop.scim.list("/Users", count=0)
    assert body["totalResults"] == len(PEOPLE)
    assert resources(body) == []
    assert body.get("itemsPerPage", 0) == 0


def test_negative_count_is_zero(pop):
    # RFC 7644 §3.4.2.4: "A negative value SHALL be interpreted as 0."
    body = pop.scim.list("/Users", count=-3)
    assert body["totalResults"] == len(PEOPLE)
    assert resources(body) == []


def test_paging_with_filter(pop):
    body = pop.scim.list("/Users", filter="active eq false", startIndex=2, count=2, sortBy="userName")
    assert body["totalResults"] == 4
    assert [u["userName"].split("@")[0] for u in resources(body)] == ["eve", "grace"]


def test_count_capped_at_max_results(make_scim):
    scim = make_scim()
    spc = scim.get("/ServiceProviderConfig").json
    max_results = spc["filter"]["maxResults"]
    max_ops = spc["bulk"]["maxOperations"]
    if max_results > 5000:
        pytest.skip(f"filter.maxResults={max_results}: too many users to create for this check")
    # Create maxResults+1 users through /Bulk in chunks (fast), then ask for more than the cap.
    names = [f"cap{i:05d}@example.com" for i in range(max_results + 1)]
    chunk = max(1, min(max_ops, 400))
    for start in range(0, len(names), chunk):
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"c{i}",
                "data": {"schemas": [USER_URN], "userName": n}}
               for i, n in enumerate(names[start:start + chunk], start)]
        r = scim.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                "Operations": ops})
        assert r.status == 200, r
        assert all(o["status"] == "201" for o in r.json["Operations"]), r.json["Operations"][:3]
    body = scim.list("/Users", count=max_results + 50)
    assert body["totalResults"] == max_results + 1
    assert len(resources(body)) == max_results
    assert body["itemsPerPage"] == max_results
    # Without count the server pages at its maximum too (RFC 7644 §3.4.2.4), never more.
    body = scim.list("/Users")
    assert body["totalResults"] == max_results + 1
    assert len(resources(body)) <= max_results


def test_list_attributes(pop):
    body = pop.scim.list("/Users", attributes="userName", filter='userName sw "a"')
    (u,) = resources(body)
    assert u["userName"] == "alice@example.com"
    assert u["id"] == pop.ids["alice"]
    for absent in ("name", "emails", "title", "active", "displayName"):
        assert absent not in u, u


def test_list_attributes_sub_attribute(pop):
    body = pop.scim.list("/Users", attributes="emails.value,name.familyName", filter='userName sw "a"')
    (u,) = resources(body)
    assert u["name"] == {"familyName": "Adams"}
    assert sorted(e["value"] for e in u["emails"]) == ["alice@example.com", "alice@home.org"]
    assert all(set(e) == {"value"} for e in u["emails"]), u["emails"]


def test_list_attributes_extension(pop):
    body = pop.scim.list("/Users", attributes=f"{ENTERPRISE_URN}:department", filter='userName sw "a"')
    (u,) = resources(body)
    assert u[ENTERPRISE_URN] == {"department": "R&D"}
    assert "name" not in u


def test_list_excluded_attributes(pop):
    body = pop.scim.list("/Users", excludedAttributes="emails,name", filter='userName sw "b"')
    (u,) = resources(body)
    assert "emails" not in u and "name" not in u
    assert u["title"] == "Manager"


def test_search_users(pop):
    r = pop.scim.post("/Users/.search", {
        "schemas": [SEARCH_URN], "filter": 'title eq "Engineer"', "attributes": ["userName"],
        "sortBy": "userName", "sortOrder": "descending", "startIndex": 2, "count": 2})
    assert r.status == 200, r
    body = assert_list_response(r)
    assert body["totalResults"] == 5
    assert [u["userName"] for u in resources(body)] == ["grace@example.com", "frank@example.org"]
    assert all("name" not in u for u in resources(body))


def test_search_excluded_attributes(pop):
    r = pop.scim.post("/Users/.search", {"schemas": [SEARCH_URN], "filter": 'userName sw "i"',
                                         "excludedAttributes": ["emails"]})
    body = assert_list_response(r)
    (u,) = resources(body)
    assert "emails" not in u and u["title"] == "Manager"


def test_search_groups(pop):
    r = pop.scim.post("/Groups/.search", {"schemas": [SEARCH_URN], "filter": 'displayName eq "Staff"'})
    body = assert_list_response(r)
    (g,) = resources(body)
    assert g["id"] == pop.groups["Staff"]


def test_search_root_spans_resource_types(pop):
    # RFC 7644 §3.4.3: a search at the root covers all resource types.
    r = pop.scim.post("/.search", {"schemas": [SEARCH_URN], "filter": 'displayName sw "A"'})
    body = assert_list_response(r)
    kinds = {(x["meta"]["resourceType"], x.get("displayName")) for x in resources(body)}
    assert kinds == {("User", "Alice Adams"), ("Group", "Admins")}, kinds


def test_search_invalid_filter(pop):
    r = pop.scim.post("/Users/.search", {"schemas": [SEARCH_URN], "filter": 'userName eq'})
    assert_error(r, 400, "invalidFilter")


def test_search_no_filter_lists_all(pop):
    r = pop.scim.post("/Users/.search", {"schemas": [SEARCH_URN], "count": 3})
    body = assert_list_response(r)
    assert body["totalResults"] == len(PEOPLE)
    assert len(resources(body)) == 3


def test_get_with_filter_and_sort_and_projection(pop):
    body = pop.scim.list("/Users", filter='emails[type eq "home"]', sortBy="userName",
                         sortOrder="descending", attributes="userName", startIndex=1, count=10)
    assert [u["userName"].split("@")[0] for u in resources(body)] == ["ivan", "frank", "carol", "alice"]


def test_paging_walk_with_writes_between_pages_equals_offsets(idsync_bin, server):
    """Deep pages continue by key from where the previous page ended (issue #13 item 4); a
    delete before that point must not shift the next page: every page equals the slice of the
    whole list taken at the same moment, as OFFSET would give it."""
    info = add_connection(idsync_bin, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    n = 0

    def create():
        nonlocal n
        n += 1
        r = scim.post("/Users", {"schemas": [USER_URN], "userName": f"walker{n}@example.com"})
        assert r.status == 201, r
        return r.json["id"]

    for _ in range(40):
        create()

    def everything():
        body = scim.list("/Users", startIndex=1, count=1000)
        return [u["id"] for u in resources(body)], body["totalResults"]

    start, page, rounds = 1, 7, 0
    while True:
        body = scim.list("/Users", startIndex=start, count=page)
        ids, total = everything()
        assert body["totalResults"] == total == len(ids)
        assert [u["id"] for u in resources(body)] == ids[start - 1:start - 1 + page], start
        if start > total:
            break
        start += page
        # Between pages: delete before the next page's start, at it, after it; or add users.
        ids, total = everything()
        victim = [max(start // 2 - 1, 0), start - 2, start + 3, None][rounds % 4]
        rounds += 1
        if victim is None:
            create()
            create()
        elif victim < len(ids):
            assert scim.delete(f"/Users/{ids[victim]}").status == 204
    assert rounds >= 5
