// Compressed bodies (body_codec.h) through the store's own interface: dictionaries are trained
// from the first bodies written, later bodies are stored compressed, and every form reads back
// the same.
#include "store/sqlite/body_codec.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/store_fixture.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::TempDir;
using test_support::Query;

using scim::ResourceType;

Json EntraUser(int i) {
  return test_support::EntraUser("u" + std::to_string(i), i).body;
}

StoredResource User(int i) {
  return test_support::EntraUser("u" + std::to_string(i), i);
}

class BodyCodecTest : public ::testing::Test {
 protected:
  static constexpr size_t kSamples = 40;

  void Open() {
    SqliteOptions options;
    options.compression_samples = kSamples;
    auto store = SqliteStore::Open(dir_.path(), options);
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
  }

  void SetUp() override {
    Open();
    auto status = store_->Write([&](Transaction& tx) -> Status {
      Connection c;
      c.name = "entra";
      c.directory = "users";
      c.kind = "scim";
      c.created = FromUnixMillis(1000);
      auto made = tx.CreateConnection(c);
      if (!made) return made.error();
      conn_ = made->id;
      return Status::Ok();
    });
    ASSERT_TRUE(status) << status.error().detail;
  }

  void PutUsers(int from, int to) {
    for (int i = from; i < to; ++i) {
      auto status = store_->Write([&](Transaction& tx) -> Status {
        auto put = tx.PutResource(conn_, User(i), "user" + std::to_string(i), {});
        return put ? Status::Ok() : Status(put.error());
      });
      ASSERT_TRUE(status) << status.error().detail;
    }
  }

  // Every user from 0 to `to` reads back as written, parsed and as text.
  void ExpectUsers(SqliteStore& store, int to) {
    auto status = store.Read([&](Transaction& tx) -> Status {
      for (int i = 0; i < to; ++i) {
        auto r = tx.GetResource(conn_, ResourceType::kUser, "u" + std::to_string(i));
        if (!r) return r.error();
        EXPECT_EQ(r->body, EntraUser(i)) << i;
        auto t = tx.GetResourceText(conn_, ResourceType::kUser, "u" + std::to_string(i));
        if (!t) return t.error();
        EXPECT_EQ(Json::parse(t->body_text), EntraUser(i)) << i;
      }
      auto page = tx.ListResources(conn_, ResourceType::kUser, 0, to + 10);
      if (!page) return page.error();
      EXPECT_EQ(page->size(), static_cast<size_t>(to));
      return Status::Ok();
    });
    ASSERT_TRUE(status) << status.error().detail;
  }

  std::string db_path() const { return dir_.path() + "/idsync.db"; }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  int64_t conn_ = 0;
};

TEST_F(BodyCodecTest, UsersAreCompressedOnceADictionaryIsTrained) {
  PutUsers(0, kSamples);
  store_->WaitForTraining();
  ASSERT_NE(store_->CompressionDictionary(static_cast<int>(BodyKind::kMirrorUser)), 0);
  PutUsers(kSamples, kSamples + 40);

  // The sampled rows stay text; rows written after training are BLOBs far smaller than text.
  auto before = Query(db_path(), "SELECT typeof(body) FROM resources WHERE id = 'u1'");
  EXPECT_EQ(before, std::vector<std::string>{"text"});
  auto after = Query(db_path(), "SELECT typeof(body) FROM resources WHERE id = 'u60'");
  EXPECT_EQ(after, std::vector<std::string>{"blob"});
  auto text_bytes = Query(db_path(),
                          "SELECT sum(length(body)) FROM resources WHERE id IN "
                          "('u1','u2','u3','u4','u5','u6','u7','u8','u9','u10')");
  auto blob_bytes = Query(db_path(),
                          "SELECT sum(length(body)) FROM resources WHERE id IN "
                          "('u61','u62','u63','u64','u65','u66','u67','u68','u69',"
                          "'u70')");
  ASSERT_EQ(text_bytes.size(), 1u);
  ASSERT_EQ(blob_bytes.size(), 1u);
  EXPECT_LT(std::stol(blob_bytes[0]) * 3, std::stol(text_bytes[0]));

  ExpectUsers(*store_, kSamples + 40);
  // An update of a sampled (text) row stores it compressed.
  PutUsers(1, 2);
  EXPECT_EQ(Query(db_path(), "SELECT typeof(body) FROM resources WHERE id = 'u1'"),
            std::vector<std::string>{"blob"});
  ExpectUsers(*store_, kSamples + 40);
}

// Bodies encoded before their jobs (Store::EncodeBody, on the request threads) are compressed
// against the same dictionary as the writer's own encoding, and read back the same.
TEST_F(BodyCodecTest, BodiesEncodedOnOtherThreadsAreCompressedAndReadBack) {
  PutUsers(0, kSamples);
  store_->WaitForTraining();
  ASSERT_NE(store_->CompressionDictionary(static_cast<int>(BodyKind::kMirrorUser)), 0);
  std::vector<EncodedBodyPtr> encoded(40);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 40; i += 4) {
        encoded[i] = store_->EncodeBody(BodyKind::kMirrorUser, EntraUser(kSamples + i));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(encoded[i]);
    EXPECT_TRUE(encoded[i]->blob) << i;
    auto status = store_->Write([&](Transaction& tx) -> Status {
      StoredResource u = User(kSamples + i);
      u.encoded = encoded[i];
      auto put = tx.PutResource(conn_, u, "user" + std::to_string(kSamples + i), {});
      return put ? Status::Ok() : Status(put.error());
    });
    ASSERT_TRUE(status) << status.error().detail;
  }
  EXPECT_EQ(Query(db_path(), "SELECT typeof(body) FROM resources WHERE id = 'u60'"),
            std::vector<std::string>{"blob"});
  ExpectUsers(*store_, kSamples + 40);
}

TEST_F(BodyCodecTest, DictionariesSurviveARestartAndReachAnotherStoreOnTheFile) {
  // A second store on the same file (another process, e.g. the CLI) opened before training:
  // it meets a dictionary it has never loaded and reads it from the database.
  SqliteOptions options;
  options.compression_samples = 0;  // this one never trains
  auto other = SqliteStore::Open(dir_.path(), options);
  ASSERT_TRUE(other) << other.error().detail;

  PutUsers(0, kSamples);
  store_->WaitForTraining();
  PutUsers(kSamples, kSamples + 20);
  ExpectUsers(**other, kSamples + 20);

  store_->Close();
  store_.reset();
  Open();
  // The dictionary is loaded on open: the next write is compressed at once.
  EXPECT_NE(store_->CompressionDictionary(static_cast<int>(BodyKind::kMirrorUser)), 0);
  PutUsers(kSamples + 20, kSamples + 21);
  EXPECT_EQ(Query(db_path(), "SELECT typeof(body) FROM resources WHERE id = 'u60'"),
            std::vector<std::string>{"blob"});
  ExpectUsers(*store_, kSamples + 21);
  EXPECT_EQ(Query(db_path(), "SELECT count(*) FROM body_dictionaries"),
            std::vector<std::string>{"1"});
}

TEST_F(BodyCodecTest, EffectiveUsersAndChangesRoundTripCompressed) {
  auto effective = [](int i) {
    EffectiveUserRow u;
    u.directory = "users";
    u.id = "e" + std::to_string(i);
    u.username = "user" + std::to_string(i);
    u.username_key = u.username;
    u.state = "active";
    u.body = Json{{"attributes",
                   {{"username",
                     {{"value", u.username},
                      {"connection", "8413863a-dc9c-4c76-9887-e011be1796db"},
                      {"rule", "attributes.username.sources[0]"},
                      {"source", "userName"}}},
                    {"email",
                     {{"value", u.username + "@contoso.example"},
                      {"connection", "8413863a-dc9c-4c76-9887-e011be1796db"},
                      {"rule", "attributes.email.sources[0]"},
                      {"source", "emails[primary eq true].value"}}}}},
                  {"memberships", Json::array()}};
    u.created = FromUnixMillis(5000);
    u.last_modified = FromUnixMillis(5000);
    return u;
  };
  auto change = [](int i) {
    ChangeRecord c;
    c.directory = "users";
    c.time = FromUnixMillis(6000 + i);
    c.type = "User";
    c.op = "upsert";
    c.id = "e" + std::to_string(i);
    c.resource = Json{{"userName", "user" + std::to_string(i)}, {"active", true}};
    c.cause = Json{{"connection", "entra"},
                   {"reason", "scim create"},
                   {"request_id", "r" + std::to_string(i)},
                   {"actor", "scim"}};
    return c;
  };
  const int n = 4 * kSamples;
  for (int i = 0; i < n; ++i) {
    auto status = store_->Write([&](Transaction& tx) -> Status {
      auto put = tx.PutEffectiveUser(effective(i));
      if (!put) return put.error();
      // Two entries per user: the change feed has twice as many samples as users.
      auto first = tx.AppendChange(change(i));
      if (!first) return first.error();
      ChangeRecord deleted = change(i);
      deleted.op = "delete";
      deleted.resource = nullptr;
      auto second = tx.AppendChange(deleted);
      return second ? Status::Ok() : Status(second.error());
    });
    ASSERT_TRUE(status) << status.error().detail;
    if (i % 20 == 19) store_->WaitForTraining();  // so that later rows are compressed
  }
  store_->WaitForTraining();
  EXPECT_NE(store_->CompressionDictionary(static_cast<int>(BodyKind::kEffectiveUser)), 0);
  EXPECT_NE(store_->CompressionDictionary(static_cast<int>(BodyKind::kChange)), 0);
  EXPECT_EQ(Query(db_path(), "SELECT typeof(body) FROM effective_users WHERE id = 'e159'"),
            std::vector<std::string>{"blob"});
  EXPECT_EQ(Query(db_path(), "SELECT typeof(cause) FROM changes ORDER BY seq DESC LIMIT 1"),
            std::vector<std::string>{"blob"});
  auto status = store_->Read([&](Transaction& tx) -> Status {
    for (int i = 0; i < n; ++i) {
      auto u = tx.GetEffectiveUser("users", "e" + std::to_string(i));
      if (!u) return u.error();
      EXPECT_EQ(u->body, effective(i).body) << i;
    }
    auto changes = tx.ListChanges("users", 0, 10 * n);
    if (!changes) return changes.error();
    EXPECT_EQ(changes->size(), static_cast<size_t>(2 * n));
    for (size_t k = 0; k < changes->size(); ++k) {
      ChangeRecord expected = change(static_cast<int>(k / 2));
      if (k % 2 == 1) expected.resource = nullptr;
      EXPECT_EQ((*changes)[k].resource, expected.resource) << k;
      EXPECT_EQ((*changes)[k].cause, expected.cause) << k;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(status) << status.error().detail;
}

TEST_F(BodyCodecTest, GroupsStayTextSoTheirNamesAreReadBySql) {
  PutUsers(0, kSamples);
  store_->WaitForTraining();
  auto status = store_->Write([&](Transaction& tx) -> Status {
    StoredResource g;
    g.id = "g1";
    g.type = ResourceType::kGroup;
    g.body = Json{{"displayName", "Engineering"}};
    g.created = g.last_modified = FromUnixMillis(3000);
    if (auto put = tx.PutResource(conn_, g, "engineering", {}); !put) return put.error();
    auto added = tx.AddMember(conn_, "g1", {"u3", "User", "user3"});
    return added ? Status::Ok() : Status(added.error());
  });
  ASSERT_TRUE(status) << status.error().detail;
  EXPECT_EQ(Query(db_path(), "SELECT typeof(body) FROM resources WHERE id = 'g1'"),
            std::vector<std::string>{"text"});
  status = store_->Read([&](Transaction& tx) -> Status {
    auto groups = tx.GroupsOf(conn_, "u3");
    if (!groups) return groups.error();
    EXPECT_EQ(*groups, (std::vector<std::pair<std::string, std::string>>{{"g1", "Engineering"}}));
    return Status::Ok();
  });
  ASSERT_TRUE(status) << status.error().detail;
}

TEST_F(BodyCodecTest, ACorruptValueIsAnErrorNotACrash) {
  PutUsers(0, kSamples);
  store_->WaitForTraining();
  PutUsers(kSamples, kSamples + 2);
  // Truncated frame, unknown format byte, unknown dictionary.
  Query(db_path(), "UPDATE resources SET body = substr(body, 1, 9) WHERE id = 'u40'");
  Query(db_path(), "UPDATE resources SET body = x'07000000000000' WHERE id = 'u41'");
  Query(db_path(), "UPDATE resources SET body = x'01ffff000028b52ffd' WHERE id = 'u1'");
  for (const char* id : {"u40", "u41", "u1"}) {
    auto status = store_->Read([&](Transaction& tx) -> Status {
      auto r = tx.GetResource(conn_, ResourceType::kUser, id);
      EXPECT_FALSE(r) << id;
      if (!r) {
        EXPECT_EQ(r.error().code, ErrorCode::kInternal) << id;
      }
      return Status::Ok();
    });
    EXPECT_TRUE(status);
  }
}

}  // namespace
}  // namespace idsync::store::sqlite
