// The SQLite engine: open and migrate, read snapshots, the writer and group commit, checkpoints,
// durability. The areas are tested in <area>_test.cpp.
#include "store/sqlite/sqlite_store.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/migrations.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/store_fixture.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::AsStatus;
using test_support::MakeConnection;
using test_support::MakeGroup;
using test_support::MakeUser;
using test_support::OpenOrDie;
using test_support::PutGroup;
using test_support::PutUser;
using test_support::Query;
using test_support::SqliteStoreTest;
using test_support::TempDir;

using scim::ResourceType;

TEST_F(SqliteStoreTest, WritesThroughReadTransactionFail) {
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(PutUser(tx, conn_, "u1", "alice").error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.CreateConnection(MakeConnection("x")).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.AppendAudit({}).error().code, ErrorCode::kInternal);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, GroupCommitBatchesConcurrentWrites) {
  constexpr int kThreads = 16;
  constexpr int kWrites = 200;
  int64_t commits_before = store_->commit_count();
  const store::Store::WriteStats stats_before = store_->WriteCounts();
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto status = store_->Write([&](Transaction& tx) -> Status {
          auto put = PutUser(tx, conn_, id, id);
          return put ? Status::Ok() : Status(put.error());
        });
        if (!status) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t commits = store_->commit_count() - commits_before;
  std::cout << "[ figures  ] " << kThreads * kWrites << " writes in " << seconds << " s ("
            << kThreads * kWrites / seconds << " writes/s), " << commits << " commits ("
            << commits / seconds << " commits/s, " << double(kThreads * kWrites) / commits
            << " writes/commit)\n";
  EXPECT_EQ(failures, 0);
  EXPECT_LT(commits, kThreads * kWrites);
  const store::Store::WriteStats stats = store_->WriteCounts();
  EXPECT_EQ(stats.commits - stats_before.commits, commits);
  // At least our writes (a dictionary training may store its dictionary in the same batches).
  EXPECT_GE(stats.jobs - stats_before.jobs, kThreads * kWrites);
  EXPECT_LE(stats.jobs - stats_before.jobs, kThreads * kWrites + 2);
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kUser), kThreads * kWrites);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, FailingJobDoesNotAffectOthersInItsBatch) {
  constexpr int kThreads = 8;
  constexpr int kWrites = 50;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        int kind = (t + i) % 3;  // 0 succeeds, 1 writes then fails, 2 writes then throws
        auto status = store_->Write([&](Transaction& tx) -> Status {
          auto put = PutUser(tx, conn_, id, id);
          if (!put) return put.error();
          if (kind == 1) return MakeError(ErrorCode::kInvalidValue, "no");
          if (kind == 2) throw std::runtime_error("boom");
          return Status::Ok();
        });
        ErrorCode expected = kind == 1 ? ErrorCode::kInvalidValue : ErrorCode::kInternal;
        if (kind == 0 ? !status.ok() : (status.ok() || status.error().code != expected)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, 0);
  MustRead([&](Transaction& tx) -> Status {
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        bool present = tx.GetResource(conn_, ResourceType::kUser, id).has_value();
        EXPECT_EQ(present, (t + i) % 3 == 0) << id;
      }
    }
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, ConcurrentAddMemberLosesNothing) {
  MustWrite([&](Transaction& tx) -> Status { return AsStatus(PutGroup(tx, conn_, "g", "G")); });
  constexpr int kThreads = 8;
  constexpr int kAdds = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAdds; ++i) {
        std::string value = "m" + std::to_string(t) + "-" + std::to_string(i);
        auto status = store_->Write([&](Transaction& tx) -> Status {
          auto added = tx.AddMember(conn_, "g", {value, "User", ""});
          if (!added) return added.error();
          return tx.TouchResource(conn_, ResourceType::kGroup, "g", FromUnixMillis(1));
        });
        if (!status) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountMembers(conn_, "g"), kThreads * kAdds);
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "g")->version, 1 + kThreads * kAdds);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, WriteAfterCloseIsUnavailable) {
  store_->Close();
  store_->Close();
  auto status = store_->Write([](Transaction&) { return Status::Ok(); });
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store_->Read([](Transaction&) { return Status::Ok(); }).error().code,
            ErrorCode::kUnavailable);
}

TEST_F(SqliteStoreTest, ReopenAfterCloseKeepsData) {
  MustWrite([&](Transaction& tx) -> Status { return AsStatus(PutUser(tx, conn_, "u1", "alice")); });
  store_->Close();
  store_ = OpenOrDie(dir_.path());
  ASSERT_TRUE(store_);
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kUser, "u1")->body["userName"], "alice");
    EXPECT_EQ(tx.GetConnection(conn_)->name, "okta");
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, CheckpointsRunWhileTheStoreIsOpen) {
  // SQLite's auto-checkpoint is replaced by a checkpoint thread: pages must still move from the
  // WAL into the database file while the store is open, and the WAL must not grow without end.
  const std::string db = dir_.path() + "/idsync.db";
  const auto initial = std::filesystem::file_size(db);
  const std::string filler(3000, 'x');
  for (int batch = 0; batch < 20; ++batch) {
    MustWrite([&](Transaction& tx) -> Status {
      for (int i = 0; i < 100; ++i) {
        StoredResource r = MakeUser("u" + std::to_string(batch * 100 + i), "n");
        r.body["filler"] = filler + std::to_string(i);
        auto put = tx.PutResource(conn_, r, std::nullopt, {});
        if (!put) return put.error();
      }
      return Status::Ok();
    });
  }
  // ~6 MB written: more than 1,000 pages, so at least one checkpoint was asked for.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(db) < initial + (4u << 20) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(std::filesystem::file_size(db), initial + (4u << 20));
  // Sustained writes (~36 MB from 4 writers, with a reader always reading) restart the WAL
  // instead of appending for ever: past 2,000 pages (8 MB) the writer completes the checkpoint
  // itself, because the background one never reaches a last frame that keeps moving.
  std::atomic<bool> done{false};
  std::atomic<uintmax_t> largest_wal{0};
  std::thread reader([&] {
    while (!done) {
      (void)store_->Read([&](Transaction& tx) -> Status {
        (void)tx.CountResources(conn_, ResourceType::kUser);
        return Status::Ok();
      });
      std::error_code ec;
      uintmax_t wal = std::filesystem::file_size(db + "-wal", ec);
      if (!ec && wal > largest_wal) largest_wal = wal;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int batch = 0; batch < 30; ++batch) {
        (void)store_->Write([&](Transaction& tx) -> Status {
          for (int i = 0; i < 100; ++i) {
            StoredResource r =
                MakeUser("w" + std::to_string(w) + "-" + std::to_string(batch * 100 + i), "n");
            r.body["filler"] = filler + std::to_string(i);
            auto put = tx.PutResource(conn_, r, std::nullopt, {});
            if (!put) return put.error();
          }
          return Status::Ok();
        });
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_LT(largest_wal.load(), 24u << 20);
}

TEST_F(SqliteStoreTest, WriteFromInsideAJobIsRefused) {
  MustWrite([&](Transaction&) -> Status {
    auto nested = store_->Write([](Transaction&) { return Status::Ok(); });
    EXPECT_EQ(nested.error().code, ErrorCode::kInternal);
    return Status::Ok();
  });
}

TEST(SqliteStoreOpen, MissingFolderSaysWhatToDo) {
  auto store = SqliteStore::Open("/tmp/idsync-no-such-folder-for-sure", {});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store.error().detail,
            "data folder /tmp/idsync-no-such-folder-for-sure does not exist; create it or pass "
            "--data");
}

TEST(SqliteStoreOpen, NotADatabaseIsUnavailable) {
  TempDir dir;
  std::FILE* f = std::fopen((dir.path() + "/idsync.db").c_str(), "w");
  std::fputs("this is not a database, just some text that is long enough to be a header", f);
  std::fclose(f);
  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().detail.find("cannot open database " + dir.path() + "/idsync.db"),
            std::string::npos)
      << store.error().detail;
}

TEST(SqliteStoreOpen, FilesAreReadableByTheOwnerOnly) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  // Write once so the -wal and -shm files exist.
  ASSERT_TRUE(store->Write(
      [](Transaction& tx) { return AsStatus(tx.CreateConnection(MakeConnection("c"))); }));
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string file = dir.path() + "/idsync.db" + suffix;
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

TEST(SqliteStoreOpen, MigratesADatabaseFromAnOlderRelease) {
  TempDir dir;
  const size_t latest = Migrations().size();
  ASSERT_GE(latest, 2u);
  int64_t conn = 0;
  std::vector<int64_t> uids;  // alice's and bob's uidNumbers before the migration
  {
    SqliteOptions older;
    older.migrations = latest - 1;
    auto store = OpenOrDie(dir.path(), older);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn = c->id;
      // As releases before migration 19 stored a user: its userName an index entry as well.
      if (auto put = tx.PutResource(conn, MakeUser("u1", "alice"), std::string("alice"),
                                    {{"userName", "alice"}, {"id", "u1"}});
          !put) {
        return put.error();
      }
      if (auto put = PutGroup(tx, conn, "g1", "Ops"); !put) return put.error();
      for (const char* name : {"alice", "bob"}) {
        if (auto put = tx.PutEffectiveUser(test_support::MakeEUser(name, name)); !put) {
          return put.error();
        }
      }
      return AsStatus(tx.AddMember(conn, "g1", {"u1", "User", "Alice"}));
    }));
    ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
      auto alice = tx.Ldap().PosixNumber("users", "user", "alice");
      auto bob = tx.Ldap().PosixNumber("users", "user", "bob");
      if (!alice) return alice.error();
      if (!bob) return bob.error();
      uids = {*alice, *bob};
      return Status::Ok();
    }));
    store->Close();
  }
  EXPECT_EQ(Query(dir.path() + "/idsync.db", "SELECT max(version) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(latest - 1)});

  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Write([&](Transaction& tx) {
    AuditRecord record;
    record.connection_id = conn;
    record.operation = "create";
    return tx.AppendAudit(record);
  }));
  EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetConnection(conn)->name, "okta");
    EXPECT_EQ(tx.GetResource(conn, ResourceType::kUser, "u1")->body["userName"], "alice");
    EXPECT_EQ(tx.FindByIndex(conn, ResourceType::kUser, "userName", "alice")->size(), 1u);
    EXPECT_EQ(tx.FindByIndex(conn, ResourceType::kUser, "id", "u1")->size(), 1u);
    EXPECT_EQ(tx.ListMembers(conn, "g1")->size(), 1u);
    EXPECT_EQ(tx.ListAudit({})->size(), 1u);
    // Counts kept by triggers since migration 4 start from what the older database held.
    EXPECT_EQ(*tx.CountResources(conn, ResourceType::kUser), 1);
    EXPECT_EQ(*tx.CountResources(conn, ResourceType::kGroup), 1);
    return Status::Ok();
  }));
  // Migration 19 keyed posix_uids by (directory, id): the numbers stay, the next one follows
  // them, and a re-created effective id gets its own back.
  EXPECT_TRUE(store->Write([&](Transaction& tx) -> Status {
    if (Status s = tx.DeleteEffectiveUser("users", "bob"); !s) return s;
    if (auto put = tx.PutEffectiveUser(test_support::MakeEUser("carol", "carol")); !put) {
      return put.error();
    }
    return AsStatus(tx.PutEffectiveUser(test_support::MakeEUser("bob", "bob")));
  }));
  EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.Ldap().PosixNumber("users", "user", "alice"), uids.at(0));
    EXPECT_EQ(*tx.Ldap().PosixNumber("users", "user", "bob"), uids.at(1));
    EXPECT_EQ(*tx.Ldap().PosixNumber("users", "user", "carol"), uids.at(1) + 1);
    return Status::Ok();
  }));
  store->Close();
  EXPECT_EQ(Query(dir.path() + "/idsync.db", "SELECT count(*) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(latest)});
  // Migration 19: the userName is kept once, as the unique key; other entries stay.
  EXPECT_EQ(Query(dir.path() + "/idsync.db",
                  "SELECT group_concat(attr) FROM resource_index WHERE type = 0"),
            std::vector<std::string>{"id"});
}

TEST(SqliteStoreOpen, RefusesADatabaseFromANewerRelease) {
  TempDir dir;
  OpenOrDie(dir.path())->Close();
  Query(dir.path() + "/idsync.db",
        "INSERT INTO schema_migrations(version, applied_at) VALUES (99, 'future')");
  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store.error().detail, "database " + dir.path() +
                                      "/idsync.db was written by a newer idsync (schema 99 > " +
                                      std::to_string(Migrations().back().version) + ")");
}

TEST(SqliteStoreOpen, TwoStoresOnOneFileBothWrite) {
  // The second store stands for the CLI writing while the server runs.
  TempDir dir;
  auto server = OpenOrDie(dir.path());
  auto cli = OpenOrDie(dir.path());
  ASSERT_TRUE(server && cli);
  int64_t conn = 0;
  ASSERT_TRUE(server->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(MakeConnection("okta"));
    if (!c) return c.error();
    conn = c->id;
    return Status::Ok();
  }));
  constexpr int kThreads = 4;
  constexpr int kWrites = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreads; ++t) {
    SqliteStore* store = t % 2 == 0 ? server.get() : cli.get();
    threads.emplace_back([&, t, store] {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn, id, id)); })) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  for (SqliteStore* store : {server.get(), cli.get()}) {
    EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
      EXPECT_EQ(*tx.CountResources(conn, ResourceType::kUser), 2 * kThreads * kWrites);
      return Status::Ok();
    }));
  }
}

TEST(SqliteStoreOpen, ConfigGenerationSeesConnectionChangesFromAnotherStore) {
  // The server caches authentication against this number; the CLI is another process.
  TempDir dir;
  auto server = OpenOrDie(dir.path());
  auto cli = OpenOrDie(dir.path());
  ASSERT_TRUE(server && cli);
  auto g0 = server->ConfigGeneration();
  ASSERT_TRUE(g0);
  EXPECT_EQ(*server->ConfigGeneration(), *g0);  // stable while nothing changes
  int64_t conn = 0;
  ASSERT_TRUE(cli->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(MakeConnection("okta"));
    if (!c) return c.error();
    conn = c->id;
    return Status::Ok();
  }));
  auto g1 = server->ConfigGeneration();
  ASSERT_TRUE(g1);
  EXPECT_NE(*g1, *g0);
  // Mirror writes do not change it (so the cache survives SCIM traffic)...
  ASSERT_TRUE(
      server->Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn, "u1", "u1")); }));
  EXPECT_EQ(*server->ConfigGeneration(), *g1);
  // ...but disabling the connection does, and so does a token change.
  ASSERT_TRUE(cli->Write([&](Transaction& tx) -> Status {
    auto c = tx.GetConnection(conn);
    if (!c) return c.error();
    c->enabled = false;
    return tx.UpdateConnection(*c);
  }));
  auto g2 = server->ConfigGeneration();
  ASSERT_TRUE(g2);
  EXPECT_NE(*g2, *g1);
  ASSERT_TRUE(
      cli->Write([&](Transaction& tx) { return tx.ExpireTokens(conn, FromUnixMillis(5)); }));
  EXPECT_EQ(*server->ConfigGeneration(), *g2);  // no token to expire: nothing changed
  Token t;
  t.connection_id = conn;
  t.hash = "h";
  t.created = FromUnixMillis(1);
  ASSERT_TRUE(cli->Write([&](Transaction& tx) { return tx.AddToken(t); }));
  EXPECT_NE(*server->ConfigGeneration(), *g2);
}

TEST(SqliteStoreOpen, SigkillLosesNoAcknowledgedWrite) {
  TempDir dir;
  int64_t conn = 0;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn = c->id;
      return Status::Ok();
    }));
  }
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child writes until killed and reports each acknowledged write on the pipe.
    close(acks[0]);
    auto store = SqliteStore::Open(dir.path(), {});
    if (!store) _exit(1);
    for (int32_t i = 0;; ++i) {
      std::string id = "u" + std::to_string(i);
      if (!(*store)->Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn, id, id)); })) {
        _exit(2);
      }
      if (write(acks[1], &i, sizeof i) != sizeof i) _exit(3);
    }
  }
  close(acks[1]);
  int32_t last = -1;
  for (int32_t got = 0; last < 50 && read(acks[0], &got, sizeof got) == sizeof got;) last = got;
  kill(child, SIGKILL);
  int32_t got = 0;
  while (read(acks[0], &got, sizeof got) == sizeof got) last = got;  // acks sent before the kill
  close(acks[0]);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the child stopped by itself: " << wstatus;
  ASSERT_GE(last, 50);

  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
    for (int32_t i = 0; i <= last; ++i) {
      EXPECT_TRUE(tx.GetResource(conn, ResourceType::kUser, "u" + std::to_string(i))) << i;
    }
    return Status::Ok();
  }));
}

}  // namespace
}  // namespace idsync::store::sqlite
