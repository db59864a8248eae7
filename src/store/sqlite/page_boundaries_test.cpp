// Paging by key (page_boundaries.h, issue #13 item 4): the remembered boundaries themselves,
// and pages of a read transaction equal to OFFSET's (the writer's), also while rows are
// inserted and deleted between and during the pages.
#include "store/sqlite/page_boundaries.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/sqlite/store_fixture.h"

namespace idsync::store::sqlite {
namespace {

using test_support::AsStatus;
using test_support::PutUser;
using test_support::SqliteStoreTest;

using scim::ResourceType;

TEST(PageBoundariesTest, NearestIsTheClosestAtOrBelow) {
  PageBoundaries b;
  PageBoundaries::Scope scope{1, 0, 0};
  EXPECT_EQ(b.Nearest(scope, 500), (std::pair<int64_t, int64_t>{0, PageBoundaries::kStart}));
  b.Remember(scope, 100, 1100);
  b.Remember(scope, PageBoundaries::kStride, 9000);
  b.Remember(scope, 300, 1300);
  EXPECT_EQ(b.Nearest(scope, 50).first, 0);
  EXPECT_EQ(b.Nearest(scope, 100), (std::pair<int64_t, int64_t>{100, 1100}));
  EXPECT_EQ(b.Nearest(scope, 299), (std::pair<int64_t, int64_t>{100, 1100}));
  EXPECT_EQ(b.Nearest(scope, PageBoundaries::kStride + 5),
            (std::pair<int64_t, int64_t>{PageBoundaries::kStride, 9000}));
  // Another scope knows nothing.
  EXPECT_EQ(b.Nearest({1, 1, 0}, 300).first, 0);
  EXPECT_EQ(b.Nearest({2, 0, 0}, 300).first, 0);
}

TEST(PageBoundariesTest, ADeleteInTheScopeForgetsAndOlderSnapshotsAreIgnored) {
  PageBoundaries b;
  b.Remember({1, 0, 5}, 100, 1100);
  // A snapshot older than the boundary's neither uses nor records anything.
  EXPECT_EQ(b.Nearest({1, 0, 4}, 100).first, 0);
  b.Remember({1, 0, 4}, 200, 1200);
  EXPECT_EQ(b.Nearest({1, 0, 5}, 200), (std::pair<int64_t, int64_t>{100, 1100}));
  // A newer counter: every boundary of the scope is gone.
  EXPECT_EQ(b.Nearest({1, 0, 6}, 200).first, 0);
  EXPECT_EQ(b.Size(1, 0), 0u);
  EXPECT_EQ(b.Nearest({1, 0, 5}, 200).first, 0);
}

TEST(PageBoundariesTest, Bounded) {
  PageBoundaries b;
  for (int64_t i = 1; i <= 1000; ++i) b.Remember({1, 0, 0}, i, 10 + i);
  EXPECT_EQ(b.Size(1, 0), PageBoundaries::kMaxRecent);
  EXPECT_EQ(b.Nearest({1, 0, 0}, 1000), (std::pair<int64_t, int64_t>{1000, 1010}));
  EXPECT_EQ(b.Nearest({1, 0, 0}, 900).first, 0);  // fell out
  for (int64_t c = 0; c < 100; ++c) b.Remember({c + 10, 0, 0}, 7, 7);
  EXPECT_EQ(b.Size(1, 0), 0u);  // least recently used scope evicted
  EXPECT_EQ(b.Size(109, 0), 1u);
}

class KeyPagingTest : public SqliteStoreTest {
 protected:
  // Users u<from>..u<to-1>, in one write.
  void AddUsers(int from, int to) {
    MustWrite([&](Transaction& tx) -> Status {
      for (int i = from; i < to; ++i) {
        auto put = PutUser(tx, conn_, "u" + std::to_string(i), "user" + std::to_string(i));
        if (!put) return put.error();
      }
      return Status::Ok();
    });
  }
  void Delete(const std::vector<int>& which) {
    MustWrite([&](Transaction& tx) -> Status {
      // Ids already gone (or never made) are skipped.
      for (int i : which) (void)tx.DeleteResource(conn_, ResourceType::kUser, "u" + std::to_string(i));
      return Status::Ok();
    });
  }
  static std::vector<std::string> Ids(const std::vector<StoredResource>& page) {
    std::vector<std::string> ids;
    for (const auto& r : page) ids.push_back(r.id);
    return ids;
  }
  // The page as OFFSET gives it: the writer's transaction pages with OFFSET.
  std::vector<std::string> ByOffset(int64_t offset, int64_t count, bool text = false) {
    std::vector<std::string> ids;
    MustWrite([&](Transaction& tx) -> Status {
      auto page = text ? tx.ListResourcesText(conn_, ResourceType::kUser, offset, count)
                       : tx.ListResources(conn_, ResourceType::kUser, offset, count);
      if (!page) return page.error();
      ids = Ids(*page);
      return Status::Ok();
    });
    return ids;
  }
  std::vector<std::string> ByKey(int64_t offset, int64_t count, bool text = false) {
    std::vector<std::string> ids;
    MustRead([&](Transaction& tx) -> Status {
      auto page = text ? tx.ListResourcesText(conn_, ResourceType::kUser, offset, count)
                       : tx.ListResources(conn_, ResourceType::kUser, offset, count);
      if (!page) return page.error();
      ids = Ids(*page);
      return Status::Ok();
    });
    return ids;
  }
};

TEST_F(KeyPagingTest, PagesEqualOffsetsWalkingJumpingAndPastTheEnd) {
  const int n = 2 * PageBoundaries::kStride + 500;
  AddUsers(0, n);
  // Walking, as a client does, with a page size that does not divide the stride.
  for (int64_t offset = 0; offset < n; offset += 997) {
    ASSERT_EQ(ByKey(offset, 997), ByOffset(offset, 997)) << offset;
  }
  // Jumps, back and forth, bodies parsed and as text.
  const int64_t s = PageBoundaries::kStride;
  for (int64_t offset : std::vector<int64_t>{n - 1, 5, s - 1, s, s + 1, 2 * s + 3, 0}) {
    EXPECT_EQ(ByKey(offset, 10), ByOffset(offset, 10)) << offset;
    EXPECT_EQ(ByKey(offset, 10, true), ByOffset(offset, 10, true)) << offset;
  }
  EXPECT_EQ(ByKey(n - 3, 10).size(), 3u);
  EXPECT_TRUE(ByKey(n, 10).empty());
  EXPECT_TRUE(ByKey(n + 50000, 10).empty());
  EXPECT_TRUE(ByKey(100, 0).empty());
}

TEST_F(KeyPagingTest, WritesBetweenPagesNeverShiftAPage) {
  const int n = PageBoundaries::kStride + 3000;
  AddUsers(0, n);
  int next = n;
  int64_t offset = 0;
  int round = 0;
  while (offset < n) {
    ASSERT_EQ(ByKey(offset, 500), ByOffset(offset, 500)) << offset;
    offset += 500;
    // Alternate: delete rows before the next page's start, after it, and at its boundary; and
    // add rows (they go to the end).
    switch (round++ % 4) {
      case 0: Delete({static_cast<int>(offset) / 2, static_cast<int>(offset) / 3}); break;
      case 1: Delete({static_cast<int>(offset) + 700}); break;
      case 2: Delete({static_cast<int>(offset) - 1 + round}); break;
      default: AddUsers(next, next + 40); next += 40; break;
    }
    ASSERT_EQ(ByKey(offset, 500), ByOffset(offset, 500)) << offset;
    // And a deep jump after the write.
    ASSERT_EQ(ByKey(PageBoundaries::kStride + 17, 50), ByOffset(PageBoundaries::kStride + 17, 50));
  }
}

TEST_F(KeyPagingTest, PagesMatchTheirOwnSnapshotUnderConcurrentInsertsAndDeletes) {
  const int n = PageBoundaries::kStride + 2000;
  AddUsers(0, n);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int next = n;
    for (int i = 1; !stop.load(); ++i) {
      auto st = store_->Write([&](Transaction& tx) -> Status {
        (void)tx.DeleteResource(conn_, ResourceType::kUser, "u" + std::to_string((i * 7919) % n));
        auto put = PutUser(tx, conn_, "u" + std::to_string(next), "user" + std::to_string(next));
        ++next;
        return AsStatus(put);
      });
      ASSERT_TRUE(st) << st.error().detail;
    }
  });
  int checked = 0;
  for (int64_t offset = 0; offset < n; offset += 400, ++checked) {
    for (int64_t at : {offset, int64_t{PageBoundaries::kStride} + offset / 8}) {
      MustRead([&](Transaction& tx) -> Status {
        auto page = tx.ListResources(conn_, ResourceType::kUser, at, 400);
        if (!page) return page.error();
        // The reference from the same snapshot: every row in pk order.
        std::vector<std::string> all;
        auto scan = tx.ScanResources(conn_, ResourceType::kUser, [&](const StoredResource& r) {
          all.push_back(r.id);
          return true;
        });
        if (!scan) return scan;
        std::vector<std::string> want;
        for (size_t i = static_cast<size_t>(at); i < all.size() && want.size() < 400; ++i)
          want.push_back(all[i]);
        EXPECT_EQ(Ids(*page), want) << at;
        return Status::Ok();
      });
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace idsync::store::sqlite
