// The areas the PostgreSQL store ports from SQLite, tested against both back-ends with the same
// assertions (a parameterised test: "sqlite" and "postgresql"), so a difference in behaviour
// between the two fails here. The PostgreSQL runs use a database of their own on the test
// cluster (tools/pg-test-cluster.sh).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/postgres/areas_fixture.h"

namespace idsync::store {
namespace {

using scim::ResourceType;

// PutResource's version hint (mirror_area.h) never changes the outcome: an update announced
// (version above 0) of a row that does not exist adds it, a create announced (0) of one that
// exists replaces it, and a unique key taken is refused on either path, leaving the job usable.
TEST_P(StoreAreas, MirrorPutIsRightWhateverTheVersionHint) {
  MustWrite([&](Transaction& tx) -> Status {
    auto absent = MakeResource(ResourceType::kUser, "h1", {{"userName", "hint1"}}, 1000);
    absent.version = 7;  // "I read version 7": wrong, there is no such row
    auto added = tx.PutResource(conn_, absent, std::string("hint1"), {{"userName", "hint1"}});
    if (!added) return added.error();
    EXPECT_EQ(added->version, 1);
    EXPECT_EQ(ToUnixMillis(added->created), 1000);
    auto present = MakeResource(ResourceType::kUser, "h1", {{"userName", "hint1"}, {"x", 2}}, 5000);
    present.version = 1;  // right
    auto replaced = tx.PutResource(conn_, present, std::string("hint1"), {{"userName", "hint1"}});
    if (!replaced) return replaced.error();
    EXPECT_EQ(replaced->version, 2);
    EXPECT_EQ(ToUnixMillis(replaced->created), 1000);  // the row's, not the caller's 5000
    auto other = MakeResource(ResourceType::kUser, "h2", {{"userName", "hint2"}}, 1000);
    if (auto put = tx.PutResource(conn_, other, std::string("hint2"), {}); !put) {
      return put.error();
    }
    // h2 renamed to h1's key, announced as an update: refused, and h2 is unchanged.
    other.version = 1;
    other.body = {{"userName", "hint1"}};
    auto clash = tx.PutResource(conn_, other, std::string("hint1"), {});
    EXPECT_FALSE(clash);
    if (!clash) {
      EXPECT_EQ(clash.error().code, ErrorCode::kUniqueness);
    }
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    // A create announced (version 0) of an existing row replaces it.
    auto again = MakeResource(ResourceType::kUser, "h1", {{"userName", "hint1"}, {"x", 3}}, 9000);
    auto put = tx.PutResource(conn_, again, std::string("hint1"), {{"userName", "hint1"}});
    if (!put) return put.error();
    EXPECT_EQ(put->version, 3);
    EXPECT_EQ(ToUnixMillis(put->created), 1000);
    // And the same clash with no hint.
    auto clash = tx.PutResource(
        conn_, MakeResource(ResourceType::kUser, "h2", {{"userName", "hint1"}}, 9000),
        std::string("hint1"), {});
    EXPECT_FALSE(clash);
    if (!clash) {
      EXPECT_EQ(clash.error().code, ErrorCode::kUniqueness);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto h1 = tx.GetResource(conn_, ResourceType::kUser, "h1");
    if (!h1) return h1.error();
    EXPECT_EQ(h1->body["x"], 3);
    EXPECT_EQ(h1->version, 3);
    auto h2 = tx.GetResource(conn_, ResourceType::kUser, "h2");
    if (!h2) return h2.error();
    EXPECT_EQ(h2->body["userName"], "hint2");
    EXPECT_EQ(h2->version, 1);
    auto found = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "hint1");
    if (!found) return found.error();
    EXPECT_EQ(found->size(), 1u);
    return Status::Ok();
  });
}

TEST_P(StoreAreas, MirrorPutGetUpdateAndUniqueKey) {
  MustWrite([&](Transaction& tx) -> Status {
    auto a = PutUser(tx, conn_, "u1", "alice");
    if (!a) return a.error();
    EXPECT_EQ(a->version, 1);
    auto taken = PutUser(tx, conn_, "u2", "alice");
    EXPECT_FALSE(taken);
    if (!taken) {
      EXPECT_EQ(taken.error().code, ErrorCode::kUniqueness);
      EXPECT_EQ(taken.error().detail, "User \"alice\" already exists");
    }
    // The job goes on after a refused put, and the refused one left nothing.
    auto b = PutUser(tx, conn_, "u2", "bob");
    return AsStatus(b);
  });
  MustWrite([&](Transaction& tx) -> Status {
    auto again = tx.PutResource(
        conn_, MakeResource(ResourceType::kUser, "u1", {{"userName", "alice"}, {"x", 1}}, 9000),
        std::string("alice"), {{"userName", "alice"}, {"id", "u1"}});
    if (!again) return again.error();
    EXPECT_EQ(again->version, 2);
    EXPECT_EQ(ToUnixMillis(again->created), 2000);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto u = tx.GetResource(conn_, ResourceType::kUser, "u1");
    if (!u) return u.error();
    EXPECT_EQ(u->body["x"], 1);
    EXPECT_EQ(u->version, 2);
    EXPECT_EQ(ToUnixMillis(u->last_modified), 9000);
    auto text = tx.GetResourceText(conn_, ResourceType::kUser, "u1");
    if (!text) return text.error();
    EXPECT_EQ(Json::parse(text->body_text), u->body);
    EXPECT_TRUE(text->body.empty());
    // The version alone (an optimistic PATCH's check), and kNotFound for another type's id.
    auto version = tx.GetResourceVersion(conn_, ResourceType::kUser, "u1");
    if (!version) return version.error();
    EXPECT_EQ(*version, 2);
    auto no_version = tx.GetResourceVersion(conn_, ResourceType::kGroup, "u1");
    EXPECT_FALSE(no_version);
    if (!no_version) {
      EXPECT_EQ(no_version.error().code, ErrorCode::kNotFound);
    }
    auto missing = tx.GetResource(conn_, ResourceType::kUser, "nope");
    EXPECT_FALSE(missing);
    if (!missing) {
      EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    }
    // A group with a user's id is another resource.
    EXPECT_FALSE(tx.GetResource(conn_, ResourceType::kGroup, "u1"));
    auto found = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "bob");
    if (!found) return found.error();
    EXPECT_EQ(found->size(), 1u);
    if (!found->empty()) {
      EXPECT_EQ(found->front().id, "u2");
    }
    auto none = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice2");
    if (!none) return none.error();
    EXPECT_TRUE(none->empty());
    auto count = tx.CountResources(conn_, ResourceType::kUser);
    if (!count) return count.error();
    EXPECT_EQ(*count, 2);
    return Status::Ok();
  });
}

// A write job reads back the user it has just stored (the derivation does) from memory, in both
// stores: what it gets must equal what the row holds, and nothing stale may survive a delete, a
// touch or a failed write.
TEST_P(StoreAreas, UserReadBackInTheWritingJobEqualsTheRow) {
  StoredResource in_job;
  MustWrite([&](Transaction& tx) -> Status {
    StoredResource u = MakeResource(ResourceType::kUser, "rb1", {{"userName", "reader"}}, 2000);
    u.body["name"] = {{"givenName", "Réa"}, {"familyName", "Der"}};
    u.body["emails"] = Json::array({{{"value", "r@example.com"}, {"primary", true}}});
    u.body["x"] = 1.5;
    auto put = tx.PutResource(conn_, u, std::string("reader"), {{"userName", "reader"}});
    EXPECT_TRUE(put);
    auto got = tx.GetResource(conn_, ResourceType::kUser, "rb1");
    EXPECT_TRUE(got);
    if (got) {
      in_job = *got;
    }
    // A failed write of the same user leaves the stored one readable, unchanged.
    EXPECT_TRUE(PutUser(tx, conn_, "rb2", "other"));
    StoredResource clash = MakeResource(ResourceType::kUser, "rb1", {{"userName", "other"}}, 2000);
    auto refused = tx.PutResource(conn_, clash, std::string("other"), {{"userName", "other"}});
    EXPECT_FALSE(refused);
    if (!refused) {
      EXPECT_EQ(refused.error().code, ErrorCode::kUniqueness);
    }
    auto after = tx.GetResource(conn_, ResourceType::kUser, "rb1");
    EXPECT_TRUE(after);
    if (after) {
      EXPECT_EQ(after->body, in_job.body);
    }
    // A touch bumps the version in the row: the read sees it.
    EXPECT_TRUE(PutUser(tx, conn_, "rb3", "touched"));
    EXPECT_TRUE(tx.TouchResource(conn_, ResourceType::kUser, "rb3", FromUnixMillis(7000)));
    auto touched = tx.GetResource(conn_, ResourceType::kUser, "rb3");
    EXPECT_TRUE(touched);
    if (touched) {
      EXPECT_EQ(touched->version, 2);
    }
    auto touched_version = tx.GetResourceVersion(conn_, ResourceType::kUser, "rb3");
    EXPECT_TRUE(touched_version && *touched_version == 2);
    // A delete right after a write: gone.
    EXPECT_TRUE(PutUser(tx, conn_, "rb4", "gone"));
    EXPECT_TRUE(tx.DeleteResource(conn_, ResourceType::kUser, "rb4"));
    auto gone = tx.GetResource(conn_, ResourceType::kUser, "rb4");
    EXPECT_FALSE(gone);
    if (!gone) {
      EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto row = tx.GetResource(conn_, ResourceType::kUser, "rb1");
    if (!row) return row.error();
    EXPECT_EQ(row->body, in_job.body);
    EXPECT_EQ(DumpJson(row->body), DumpJson(in_job.body));
    EXPECT_EQ(row->version, in_job.version);
    EXPECT_EQ(row->created, in_job.created);
    EXPECT_EQ(row->last_modified, in_job.last_modified);
    EXPECT_TRUE(row->body_text.empty());
    EXPECT_TRUE(in_job.body_text.empty());
    return Status::Ok();
  });
}

// A PATCH's path: the user's version read, then the user stored, in one job. The write takes
// the row the version read found (SQLite keeps it for PutResource); what the job does between
// the two (a touch, a write of the same or another user) is seen, and the unique key moves.
TEST_P(StoreAreas, AVersionReadThenAWriteOfTheSameUserStoresTheNextVersion) {
  auto put = [&](Transaction& tx, const std::string& id, const std::string& name) {
    return tx.PutResource(conn_, MakeResource(ResourceType::kUser, id, {{"userName", name}}, 2000),
                          name, {{"userName", name}});
  };
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(put(tx, "vw1", "alpha"));
    EXPECT_TRUE(put(tx, "vw2", "delta"));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    auto v = tx.GetResourceVersion(conn_, ResourceType::kUser, "vw1");
    EXPECT_TRUE(v && *v == 1);
    auto renamed = put(tx, "vw1", "beta");  // a new unique key
    EXPECT_TRUE(renamed);
    if (renamed) {
      EXPECT_EQ(renamed->version, 2);
      EXPECT_EQ(renamed->created, FromUnixMillis(2000));
    }
    // Read, touched, then written: the touch counts.
    v = tx.GetResourceVersion(conn_, ResourceType::kUser, "vw1");
    EXPECT_TRUE(v && *v == 2);
    EXPECT_TRUE(tx.TouchResource(conn_, ResourceType::kUser, "vw1", FromUnixMillis(3000)));
    auto after_touch = put(tx, "vw1", "beta");
    EXPECT_TRUE(after_touch && after_touch->version == 4);
    // Read one user, write another: each keeps its own version.
    v = tx.GetResourceVersion(conn_, ResourceType::kUser, "vw1");
    EXPECT_TRUE(v && *v == 4);
    auto other = put(tx, "vw2", "epsilon");
    EXPECT_TRUE(other && other->version == 2);
    auto again = put(tx, "vw1", "gamma");
    EXPECT_TRUE(again && again->version == 5);
    // A version read and a refused write (the key is taken) leave the row as it was.
    v = tx.GetResourceVersion(conn_, ResourceType::kUser, "vw1");
    EXPECT_TRUE(v && *v == 5);
    auto refused = put(tx, "vw1", "epsilon");
    EXPECT_FALSE(refused);
    auto last = put(tx, "vw1", "gamma");
    EXPECT_TRUE(last && last->version == 6);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto row = tx.GetResource(conn_, ResourceType::kUser, "vw1");
    if (!row) return row.error();
    EXPECT_EQ(row->version, 6);
    EXPECT_EQ(row->body.value("userName", ""), "gamma");
    EXPECT_EQ(row->created, FromUnixMillis(2000));
    return Status::Ok();
  });
  // The keys the user left are free again, the one it holds is taken.
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(put(tx, "vw3", "alpha"));
    EXPECT_TRUE(put(tx, "vw4", "beta"));
    auto taken = put(tx, "vw5", "gamma");
    EXPECT_FALSE(taken);
    if (!taken) {
      EXPECT_EQ(taken.error().code, ErrorCode::kUniqueness);
    }
    return Status::Ok();
  });
}

// A write handed a body encoded before its job (Store::EncodeBody) stores those bytes, not an
// encoding of its own: each write here gets the encoding of a different body, and a read after
// the commit finds that one. What a write returns carries no encoding on to a later write.
TEST_P(StoreAreas, WritesStoreTheBodyEncodedBeforeTheirJob) {
  const Json user = {{"userName", "enc"}, {"displayName", "Encoded before the job"}};
  const Json effective = {{"name", "enc"}, {"marker", "encoded before the job"}};
  const Json change = {{"id", "e1"}, {"marker", "encoded before the job"}};
  const EncodedBodyPtr user_bytes = store_->EncodeBody(BodyKind::kMirrorUser, user);
  const EncodedBodyPtr effective_bytes = store_->EncodeBody(BodyKind::kEffectiveUser, effective);
  const EncodedBodyPtr change_bytes = store_->EncodeBody(BodyKind::kChange, change);
  ASSERT_TRUE(user_bytes && effective_bytes && change_bytes);
  MustWrite([&](Transaction& tx) -> Status {
    StoredResource u = MakeResource(ResourceType::kUser, "enc1", {{"userName", "enc"}}, 2000);
    u.encoded = user_bytes;
    auto put = tx.PutResource(conn_, u, std::string("enc"), {});
    if (!put) return put.error();
    EXPECT_FALSE(put->encoded);
    EffectiveUserRow row = MakeEUser("e1", "enc");
    row.encoded = effective_bytes;
    auto eput = tx.PutEffectiveUser(row);
    if (!eput) return eput.error();
    EXPECT_FALSE(eput->encoded);
    ChangeRecord c;
    c.time = FromUnixMillis(5000);
    c.directory = "users";
    c.type = "User";
    c.op = "upsert";
    c.id = "e1";
    c.resource = {{"id", "e1"}};
    c.encoded_resource = change_bytes;
    return AsStatus(tx.AppendChange(c));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto got = tx.GetResource(conn_, ResourceType::kUser, "enc1");
    if (!got) return got.error();
    EXPECT_EQ(got->body, user);
    auto erow = tx.GetEffectiveUser("users", "e1");
    if (!erow) return erow.error();
    EXPECT_EQ(erow->body, effective);
    auto changes = tx.ListChanges("users", 0, 10);
    if (!changes) return changes.error();
    EXPECT_EQ(changes->size(), 1u);
    if (!changes->empty()) {
      EXPECT_EQ(changes->at(0).resource, change);
    }
    return Status::Ok();
  });
}

TEST_P(StoreAreas, MirrorIndexIsReplacedWhenItChanges) {
  MustWrite([&](Transaction& tx) { return AsStatus(PutUser(tx, conn_, "u1", "alice")); });
  MustWrite([&](Transaction& tx) {
    return AsStatus(tx.PutResource(
        conn_, MakeResource(ResourceType::kUser, "u1", {{"userName", "alicia"}}, 2500),
        std::string("alicia"), {{"id", "u2"}}));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto old_name = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice");
    auto new_name = tx.FindByIndexText(conn_, ResourceType::kUser, "userName", "alicia");
    if (!old_name) return old_name.error();
    if (!new_name) return new_name.error();
    EXPECT_TRUE(old_name->empty());
    EXPECT_EQ(new_name->size(), 1u);
    // The index entries were replaced too (the userName is not one: kUniqueKeyAttr).
    auto old_entry = tx.FindByIndex(conn_, ResourceType::kUser, "id", "u1");
    auto new_entry = tx.FindByIndex(conn_, ResourceType::kUser, "id", "u2");
    if (!old_entry) return old_entry.error();
    if (!new_entry) return new_entry.error();
    EXPECT_TRUE(old_entry->empty());
    EXPECT_EQ(new_entry->size(), 1u);
    return Status::Ok();
  });
  // The old name is free again.
  MustWrite([&](Transaction& tx) { return AsStatus(PutUser(tx, conn_, "u2", "alice")); });
}

// Link keys by username (the default policy) are found through the unique username key, the
// others through the link index, which on SQLite holds only them (migration 19): a lookup must
// return exactly the holders of the key either way, in creation order.
TEST_P(StoreAreas, EffectiveUsersAreFoundByEveryKindOfLinkKey) {
  MustWrite([&](Transaction& tx) -> Status {
    auto put = [&](const std::string& id, const std::string& name, const std::string& link) {
      auto u = MakeEUser(id, name);
      u.link_key = link;
      return tx.PutEffectiveUser(u);
    };
    if (auto s = put("e1", "alice", "username:alice"); !s) return s.error();
    if (auto s = put("e2", "bob", "username:alice"); !s) return s.error();  // a conflict
    if (auto s = put("e3", "carol", "email:c@example.com"); !s) return s.error();
    if (auto s = put("e4", "dave", ""); !s) return s.error();  // linking off
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto ids = [&](const std::string& key) {
      std::vector<std::string> out;
      auto found = tx.FindEffectiveUsersByLinkKey("users", key);
      EXPECT_TRUE(found) << key;
      if (found) {
        for (const auto& u : *found) out.push_back(u.id);
      }
      return out;
    };
    using Ids = std::vector<std::string>;
    EXPECT_EQ(ids("username:alice"), (Ids{"e1", "e2"}));
    EXPECT_EQ(ids("username:bob"), Ids{});
    EXPECT_EQ(ids("email:c@example.com"), Ids{"e3"});
    EXPECT_EQ(ids("username:carol"), Ids{});
    EXPECT_EQ(ids("username:dave"), Ids{});
    EXPECT_EQ(ids("username:"), Ids{});
    EXPECT_EQ(ids(""), Ids{});
    return Status::Ok();
  });
  // A rename moves the user from one way of finding it to the other.
  MustWrite([&](Transaction& tx) -> Status {
    auto u = MakeEUser("e2", "alice2");
    u.link_key = "username:alice2";
    return AsStatus(tx.PutEffectiveUser(u));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto alice = tx.FindEffectiveUsersByLinkKey("users", "username:alice");
    auto alice2 = tx.FindEffectiveUsersByLinkKey("users", "username:alice2");
    if (!alice) return alice.error();
    if (!alice2) return alice2.error();
    EXPECT_EQ(alice->size(), 1u);
    EXPECT_EQ(alice2->size(), 1u);
    return Status::Ok();
  });
}

TEST_P(StoreAreas, MirrorListsPagesAndScansInCreationOrder) {
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 7; ++i) {
      // Ids in reverse so that creation order differs from id order.
      auto put = PutUser(tx, conn_, "u" + std::to_string(9 - i), "user" + std::to_string(i));
      if (!put) return put.error();
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto page = tx.ListResources(conn_, ResourceType::kUser, 2, 3);
    if (!page) return page.error();
    std::vector<std::string> ids;
    for (const auto& r : *page) ids.push_back(r.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"u7", "u6", "u5"}));
    auto text = tx.ListResourcesText(conn_, ResourceType::kUser, 6, 10);
    if (!text) return text.error();
    EXPECT_EQ(text->size(), 1u);
    auto past = tx.ListResources(conn_, ResourceType::kUser, 50, 10);
    if (!past) return past.error();
    EXPECT_TRUE(past->empty());
    std::vector<std::string> scanned;
    auto scan = tx.ScanResources(conn_, ResourceType::kUser, [&](const StoredResource& r) {
      scanned.push_back(r.id);
      return scanned.size() < 4;
    });
    if (!scan) return scan;
    EXPECT_EQ(scanned, (std::vector<std::string>{"u9", "u8", "u7", "u6"}));
    return Status::Ok();
  });
}

// The upsert skips a link whose every field is unchanged (kPutLink's WHERE, both stores); a
// change of any one field must still be stored.
TEST_P(StoreAreas, LinksUpsertEachChangedFieldAndKeepAnUnchangedOne) {
  const std::vector<SourceLink> puts = {
      {conn_, "s3", "users", "u1", false, "alice"},
      {conn_, "s3", "users", "u1", false, "alice"},      // unchanged
      {conn_, "s3", "users", "u2", false, "alice"},      // another user
      {conn_, "s3", "users", "u2", false, "alicia"},     // another source name
      {conn_, "s3", "users", "u2", true, "alicia"},      // a tombstone
      {conn_, "s3", "customers", "u2", true, "alicia"},  // another directory
  };
  for (const auto& link : puts) {
    MustWrite([&](Transaction& tx) -> Status { return tx.PutLink(link); });
    MustRead([&](Transaction& tx) -> Status {
      auto stored = tx.GetLink(conn_, "s3");
      if (!stored) return stored.error();
      EXPECT_EQ(stored->directory, link.directory);
      EXPECT_EQ(stored->effective_user_id, link.effective_user_id);
      EXPECT_EQ(stored->deleted, link.deleted);
      EXPECT_EQ(stored->source_name, link.source_name);
      return Status::Ok();
    });
  }
}

TEST_P(StoreAreas, MembersAndDeletingAMemberTouchesItsGroups) {
  MustWrite([&](Transaction& tx) -> Status {
    for (auto s : {AsStatus(PutUser(tx, conn_, "u1", "alice")),
                   AsStatus(PutUser(tx, conn_, "u2", "bob")),
                   AsStatus(PutGroup(tx, conn_, "g1", "Admins")),
                   AsStatus(PutGroup(tx, conn_, "g2", "Ops"))}) {
      if (!s) return s;
    }
    auto added = tx.AddMember(conn_, "g1", {"u2", "User", "bob"});
    if (!added) return added.error();
    EXPECT_TRUE(*added);
    auto again = tx.AddMember(conn_, "g1", {"u2", "User", "bob"});
    if (!again) return again.error();
    EXPECT_FALSE(*again);
    if (auto a = tx.AddMember(conn_, "g1", {"u1", "User", ""}); !a) return a.error();
    if (auto a = tx.AddMember(conn_, "g2", {"u1", "User", ""}); !a) return a.error();
    auto no_group = tx.AddMember(conn_, "g9", {"u1", "User", ""});
    EXPECT_FALSE(no_group);
    if (!no_group) {
      EXPECT_EQ(no_group.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto members = tx.ListMembers(conn_, "g1");
    if (!members) return members.error();
    EXPECT_EQ(members->size(), 2u);
    if (members->size() == 2) {
      EXPECT_EQ((*members)[0].value, "u1");
      EXPECT_EQ((*members)[1].display, "bob");
    }
    auto count = tx.CountMembers(conn_, "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 2);
    auto groups = tx.GroupsOf(conn_, "u1");
    if (!groups) return groups.error();
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(*groups, (Pairs{{"g1", "Admins"}, {"g2", "Ops"}}));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    auto removed = tx.RemoveMember(conn_, "g1", "u2");
    if (!removed) return removed.error();
    EXPECT_TRUE(*removed);
    return tx.DeleteResource(conn_, ResourceType::kUser, "u1");
  });
  MustRead([&](Transaction& tx) -> Status {
    auto g1 = tx.GetResource(conn_, ResourceType::kGroup, "g1");
    if (!g1) return g1.error();
    EXPECT_EQ(g1->version, 2);  // the deleted member's group changed
    auto count = tx.CountMembers(conn_, "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 0);
    EXPECT_FALSE(tx.GetResource(conn_, ResourceType::kUser, "u1"));
    auto found = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice");
    if (!found) return found.error();
    EXPECT_TRUE(found->empty());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = tx.ClearMembers(conn_, "g2"); !s) return s;
    auto gone = tx.DeleteResource(conn_, ResourceType::kGroup, "g9");
    EXPECT_FALSE(gone);
    return tx.TouchResource(conn_, ResourceType::kGroup, "g2", FromUnixMillis(7777));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto g2 = tx.GetResource(conn_, ResourceType::kGroup, "g2");
    if (!g2) return g2.error();
    EXPECT_EQ(ToUnixMillis(g2->last_modified), 7777);
    EXPECT_EQ(g2->version, 3);  // touched when u1 was deleted, then by TouchResource
    return Status::Ok();
  });
}

TEST_P(StoreAreas, DirectoriesAndPolicyVersions) {
  auto before = store_->ConfigGeneration();
  ASSERT_TRUE(before);
  MustWrite([&](Transaction& tx) -> Status {
    auto dirs = tx.ListDirectories();
    if (!dirs) return dirs.error();
    EXPECT_EQ(dirs->size(), 2u);  // "customers" and "users", made by the schema
    DirectoryRecord users;
    users.name = "users";
    users.custom_attributes = Json::array({{{"name", "badge"}}});
    auto put = tx.PutDirectory(users);
    if (!put) return put.error();
    EXPECT_EQ(put->version, 2);
    EXPECT_FALSE(tx.GetPolicy(conn_));
    for (int i = 1; i <= 2; ++i) {
      PolicyVersion p;
      p.connection_id = conn_;
      p.body = {{"n", i}};
      p.time = FromUnixMillis(i * 1000);
      p.actor = "cli";
      auto stored = tx.PutPolicy(p);
      if (!stored) return stored.error();
      EXPECT_EQ(stored->version, i);
    }
    PolicyVersion orphan;
    orphan.connection_id = conn_ + 100;
    auto refused = tx.PutPolicy(orphan);
    EXPECT_FALSE(refused);
    if (!refused) {
      EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto p = tx.GetPolicy(conn_);
    if (!p) return p.error();
    EXPECT_EQ(p->version, 2);
    EXPECT_EQ(p->body["n"], 2);
    auto all = tx.ListPolicyVersions(conn_);
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    auto users = tx.GetDirectory("users");
    if (!users) return users.error();
    EXPECT_EQ(users->custom_attributes.size(), 1u);
    EXPECT_FALSE(tx.GetDirectory("nope"));
    return Status::Ok();
  });
  // Directories and policies are configuration: every instance's next request sees the change.
  auto after = store_->ConfigGeneration();
  ASSERT_TRUE(after);
  EXPECT_GT(*after, *before);
}

TEST_P(StoreAreas, EffectiveUsersGroupsAndMemberships) {
  MustWrite([&](Transaction& tx) -> Status {
    auto alice = MakeEUser("e1", "alice");
    alice.link_key = "emp:1";
    if (auto s = tx.PutEffectiveUser(alice); !s) return s.error();
    if (auto s = tx.PutEffectiveUser(MakeEUser("e2", "bob")); !s) return s.error();
    auto dup = tx.PutEffectiveUser(MakeEUser("e3", "alice"));
    EXPECT_FALSE(dup);
    if (!dup) {
      EXPECT_EQ(dup.error().code, ErrorCode::kUniqueness);
    }
    auto updated = tx.PutEffectiveUser(alice);
    if (!updated) return updated.error();
    EXPECT_EQ(updated->version, 2);
    for (auto [id, name] : {std::pair{"g1", "Zeta"}, std::pair{"g2", "alpha"}}) {
      if (auto s = tx.PutEffectiveGroup(MakeEGroup(id, name)); !s) return s.error();
    }
    for (auto [g, u] : {std::pair{"g1", "e2"}, std::pair{"g1", "e1"}, std::pair{"g2", "e1"}}) {
      auto added = tx.AddEffectiveMember("users", g, u);
      if (!added) return added.error();
      EXPECT_TRUE(*added);
    }
    auto again = tx.AddEffectiveMember("users", "g1", "e1");
    if (!again) return again.error();
    EXPECT_FALSE(*again);
    auto not_member = tx.RemoveEffectiveMember("users", "g1", "nobody");
    if (!not_member) return not_member.error();
    EXPECT_FALSE(*not_member);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto members = tx.ListEffectiveMembers("users", "g1");
    if (!members) return members.error();
    EXPECT_EQ(*members, (std::vector<std::string>{"e2", "e1"}));  // membership order
    auto count = tx.CountEffectiveMembers("users", "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 2);
    EXPECT_FALSE(tx.CountEffectiveMembers("users", "g9"));
    auto groups = tx.EffectiveGroupsOf("users", "e1");
    if (!groups) return groups.error();
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(*groups, (Pairs{{"g1", "Zeta"}, {"g2", "alpha"}}));  // by name key, bytewise
    auto by_link = tx.FindEffectiveUsersByLinkKey("users", "emp:1");
    if (!by_link) return by_link.error();
    EXPECT_EQ(by_link->size(), 1u);
    auto by_none = tx.FindEffectiveUsersByLinkKey("users", "");
    if (!by_none) return by_none.error();
    EXPECT_TRUE(by_none->empty());
    auto bob = tx.FindEffectiveUserByUsername("users", "bob");
    if (!bob) return bob.error();
    EXPECT_EQ(bob->id, "e2");
    EXPECT_EQ(bob->mail_key, "bob@example.com");
    EXPECT_EQ(bob->link_key, "");
    auto n = tx.CountEffectiveUsers("users");
    if (!n) return n.error();
    EXPECT_EQ(*n, 2);
    auto page = tx.ListEffectiveGroups("users", 1, 5);
    if (!page) return page.error();
    EXPECT_EQ(page->size(), 1u);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    SourceLink link{conn_, "s1", "users", "e1", false, "alice"};
    if (auto s = tx.PutLink(link); !s) return s;
    return tx.DeleteEffectiveUser("users", "e1");
  });
  MustRead([&](Transaction& tx) -> Status {
    auto g1 = tx.GetEffectiveGroup("users", "g1");
    if (!g1) return g1.error();
    EXPECT_EQ(g1->version, 2);  // touched when its member left
    auto members = tx.ListEffectiveMembers("users", "g1");
    if (!members) return members.error();
    EXPECT_EQ(*members, (std::vector<std::string>{"e2"}));
    EXPECT_FALSE(tx.GetLink(conn_, "s1"));  // the user's links went with it
    std::vector<std::string> scanned;
    auto scan = tx.ScanEffectiveUsers("users", [&](const EffectiveUserRow& u) {
      scanned.push_back(u.id);
      return true;
    });
    if (!scan) return scan;
    EXPECT_EQ(scanned, (std::vector<std::string>{"e2"}));
    return Status::Ok();
  });
}

TEST_P(StoreAreas, LinksTombstonesConflictsAuditSyncAndSecrets) {
  MustWrite([&](Transaction& tx) -> Status {
    for (const SourceLink& l : {SourceLink{conn_, "s2", "users", "e1", true, "alice"},
                                SourceLink{conn_, "s1", "users", "e1", true, "alice"},
                                SourceLink{conn_, "s3", "users", "e2", false, "alice"}}) {
      if (auto s = tx.PutLink(l); !s) return s;
    }
    ConflictRecord c;
    c.directory = "users";
    c.connection_id = conn_;
    c.source_user_id = "s9";
    c.username = "alice";
    c.detail = {{"holder", "e1"}};
    c.time = FromUnixMillis(4000);
    if (auto s = tx.PutConflict(c); !s) return s;
    for (int i = 0; i < 3; ++i) {
      AuditRecord a;
      a.time = FromUnixMillis(10'000 + i * 1000);
      a.connection_id = i == 2 ? 0 : conn_;
      a.actor = "scim";
      a.operation = "create";
      a.resource_id = i == 1 ? "u1" : "u0";
      a.status = 201;
      if (auto s = tx.AppendAudit(a); !s) return s;
    }
    SyncRun run;
    run.connection_id = conn_;
    run.mode = "full";
    run.trigger = "cli";
    run.outcome = "running";
    run.started = FromUnixMillis(1);
    run.owner = "a";
    auto id = tx.InsertSyncRun(run);
    if (!id) return id.error();
    auto abandoned = tx.AbandonSyncRuns(conn_, "b", FromUnixMillis(2));
    if (!abandoned) return abandoned.error();
    EXPECT_EQ(*abandoned, 1);
    if (auto s = tx.PutSecret(conn_, "bind_password", "sealed1"); !s) return s;
    if (auto s = tx.PutSecret(conn_, "bind_password", "sealed2"); !s) return s;
    if (auto s = tx.PutSyncState(conn_, {{"usn", 5}}); !s) return s;
    auto first = tx.AcquireSyncLease(conn_, "a", FromUnixMillis(100), FromUnixMillis(200));
    auto other = tx.AcquireSyncLease(conn_, "b", FromUnixMillis(150), FromUnixMillis(300));
    auto expired = tx.AcquireSyncLease(conn_, "b", FromUnixMillis(200), FromUnixMillis(300));
    if (!first || !other || !expired) return MakeError(ErrorCode::kInternal, "lease failed");
    EXPECT_TRUE(*first);
    EXPECT_FALSE(*other);
    EXPECT_TRUE(*expired);
    return tx.ReleaseSyncLease(conn_, "b");
  });
  MustRead([&](Transaction& tx) -> Status {
    auto tombstones = tx.FindTombstones(conn_, "alice");
    if (!tombstones) return tombstones.error();
    EXPECT_EQ(tombstones->size(), 2u);
    if (tombstones->size() == 2) {
      EXPECT_EQ((*tombstones)[0].source_user_id, "s1");
    }
    auto of = tx.LinksOf("users", "e1");
    if (!of) return of.error();
    EXPECT_EQ(of->size(), 2u);
    auto conflicts = tx.ListConflicts("users");
    if (!conflicts) return conflicts.error();
    EXPECT_EQ(conflicts->size(), 1u);
    if (!conflicts->empty()) {
      EXPECT_EQ(conflicts->front().detail["holder"], "e1");
    }
    AuditQuery q;
    auto all = tx.ListAudit(q);
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 3u);
    q.connection_id = conn_;
    auto of_conn = tx.ListAudit(q);
    if (!of_conn) return of_conn.error();
    EXPECT_EQ(of_conn->size(), 2u);
    q.connection_id.reset();
    q.resource_id = "u1";
    auto of_user = tx.ListAudit(q);
    if (!of_user) return of_user.error();
    EXPECT_EQ(of_user->size(), 1u);
    AuditQuery window;
    window.since = FromUnixMillis(11'000);
    window.until = FromUnixMillis(11'000);
    auto in_window = tx.ListAudit(window);
    if (!in_window) return in_window.error();
    EXPECT_EQ(in_window->size(), 1u);
    auto runs = tx.ListSyncRuns(conn_, 10);
    if (!runs) return runs.error();
    EXPECT_EQ(runs->size(), 1u);
    if (!runs->empty()) {
      EXPECT_EQ(runs->front().outcome, "abandoned");
    }
    auto secret = tx.GetSecret(conn_, "bind_password");
    if (!secret) return secret.error();
    EXPECT_EQ(*secret, "sealed2");
    EXPECT_FALSE(tx.GetSecret(conn_, "other"));
    auto state = tx.GetSyncState(conn_);
    if (!state) return state.error();
    EXPECT_EQ((*state)["usn"], 5);
    return Status::Ok();
  });
}

TEST_P(StoreAreas, DeletingAConnectionTakesItsMirrorAlong) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = PutGroup(tx, conn_, "g1", "Admins"); !s) return s.error();
    if (auto s = tx.AddMember(conn_, "g1", {"u1", "User", ""}); !s) return s.error();
    return tx.DeleteConnection(conn_);
  });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_FALSE(tx.GetResource(conn_, ResourceType::kGroup, "g1"));
    auto groups = tx.GroupsOf(conn_, "u1");
    if (!groups) return groups.error();
    EXPECT_TRUE(groups->empty());
    return Status::Ok();
  });
}

TEST_P(StoreAreas, ConflictsAreFoundByTheirKeysOnly) {
  auto conflict = [&](const std::string& directory, const std::string& sid,
                      std::optional<ConflictKeys> keys) {
    ConflictRecord c;
    c.directory = directory;
    c.connection_id = conn_;
    c.source_user_id = sid;
    c.username = keys ? keys->username : sid;
    c.detail = {{"reason", "taken"}};
    c.time = FromUnixMillis(4000);
    c.keys = std::move(keys);
    return c;
  };
  MustWrite([&](Transaction& tx) -> Status {
    for (const ConflictRecord& c : {
             conflict("users", "s1", ConflictKeys{"alice", "key-a", "a\"l\\ice"}),
             conflict("users", "s2", ConflictKeys{"bob", "key-b", "bname"}),
             conflict("users", "s3", ConflictKeys{"carol", "key-c", "cname"}),  // two keys
             conflict("users", "s4", ConflictKeys{"dave", "", ""}),
             conflict("users", "s5", std::nullopt),  // stored before conflicts had keys
             conflict("others", "s6", ConflictKeys{"carol", "key-c", "bname"}),
             conflict("others", "s7", std::nullopt),
         }) {
      if (auto s = tx.PutConflict(c); !s) return s;
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    ConflictLookup wanted;
    wanted.usernames = {"carol", "nobody"};
    wanted.link_keys = {"key-c"};
    // s1's name, but of another connection: not s1's key.
    wanted.source_names = {{conn_, "bname"}, {conn_ + 1000, "a\"l\\ice"}};
    auto found = tx.FindConflicts("users", wanted);
    if (!found) return found.error();
    std::vector<std::string> ids;
    for (const auto& c : *found) ids.push_back(c.source_user_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"s2", "s3", "s5"}));
    if (ids.size() == 3) {
      EXPECT_FALSE((*found)[2].keys);
      EXPECT_TRUE((*found)[1].keys);
      if ((*found)[1].keys) {
        EXPECT_EQ((*found)[1].keys->username, "carol");
        EXPECT_EQ((*found)[1].keys->link_key, "key-c");
        EXPECT_EQ((*found)[1].keys->source_name, "cname");
      }
    }
    // Each key alone.
    ConflictLookup by_name;
    by_name.usernames = {"dave"};
    ConflictLookup by_key;
    by_key.link_keys = {"key-a"};
    ConflictLookup by_source;
    by_source.source_names = {{conn_, "a\"l\\ice"}};
    for (const auto& [lookup, expected] :
         {std::make_pair(by_name, std::vector<std::string>{"s4", "s5"}),
          std::make_pair(by_key, std::vector<std::string>{"s1", "s5"}),
          std::make_pair(by_source, std::vector<std::string>{"s1", "s5"}),
          std::make_pair(ConflictLookup{}, std::vector<std::string>{"s5"})}) {
      auto one = tx.FindConflicts("users", lookup);
      if (!one) return one.error();
      std::vector<std::string> got;
      for (const auto& c : *one) got.push_back(c.source_user_id);
      EXPECT_EQ(got, expected);
    }
    // ListConflicts returns the keys as stored.
    auto all = tx.ListConflicts("users");
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 5u);
    if (!all->empty() && all->front().keys) {
      EXPECT_EQ(all->front().keys->source_name, "a\"l\\ice");
    } else {
      ADD_FAILURE() << "s1 lost its keys";
    }
    return Status::Ok();
  });
}

INSTANTIATE_TEST_SUITE_P(BothBackEnds, StoreAreas, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace idsync::store
