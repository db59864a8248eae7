// bulk_users: loads N SCIM users straight into a connection's source mirror through the store
// (one write of `batch` users at a time), for benchmarks that need a large directory fast,
// such as the deep-page step of bench/deep_page.py (1,000,000 users in about a minute instead
// of the ~10 minutes of SCIM creates). Mirror rows and their index entries only: the
// effective directory is not derived, so use it for reads of /Users (paging, GET, filters),
// not for anything that reads layer 2 or LDAP. The server must not be running on the folder.
//   bulk_users DATA_DIR CONNECTION_NAME N [BATCH]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"

using idsync::Status;
using idsync::store::IndexEntry;
using idsync::store::StoredResource;
using idsync::store::Transaction;

namespace {

std::string Hex(unsigned long long v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llx", width, v);
  return buf;
}

// An Entra ID-like user, as bench/create_users.lua sends (the stored form: no id, no meta).
StoredResource User(long long n) {
  std::string u = "bulk.u" + std::to_string(n);
  std::string mail = u + "@contoso.example";
  StoredResource r;
  r.id = Hex(n, 8) + "-b01c-4000-8000-" + Hex(n, 12);
  r.type = idsync::scim::ResourceType::kUser;
  r.body = idsync::Json{
      {"schemas",
       {"urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}},
      {"externalId", Hex(n, 8) + "-0000-4000-8000-" + Hex(n * 7, 12)},
      {"userName", mail},
      {"active", true},
      {"displayName", "Bulk User " + std::to_string(n)},
      {"title", "Software Engineer"},
      {"preferredLanguage", "en-US"},
      {"name",
       {{"formatted", "Bulk User " + std::to_string(n)},
        {"familyName", "User" + std::to_string(n)},
        {"givenName", "Bulk"}}},
      {"emails", {{{"type", "work"}, {"value", mail}, {"primary", true}}}},
      {"phoneNumbers", {{{"type", "work"}, {"value", "+1 425 555 " + std::to_string(n % 10000)}}}},
      {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
       {{"employeeNumber", std::to_string(n)}, {"department", "Engineering"}}}};
  auto now = idsync::FromUnixMillis(1790000000000);
  r.created = now;
  r.last_modified = now;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bulk_users DATA_DIR CONNECTION_NAME N [BATCH]\n");
    return 2;
  }
  const std::string dir = argv[1], name = argv[2];
  const long long total = std::atoll(argv[3]);
  const long long batch = argc > 4 ? std::atoll(argv[4]) : 20000;
  auto store = idsync::store::sqlite::SqliteStore::Open(dir, {});
  if (!store) {
    std::fprintf(stderr, "bulk_users: %s\n", store.error().detail.c_str());
    return 1;
  }
  int64_t conn = 0;
  auto found = (*store)->Read([&](Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) return c.error();
    conn = c->id;
    return Status::Ok();
  });
  if (!found) {
    std::fprintf(stderr, "bulk_users: %s\n", found.error().detail.c_str());
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  for (long long from = 0; from < total; from += batch) {
    long long to = std::min(total, from + batch);
    auto st = (*store)->Write([&](Transaction& tx) -> Status {
      for (long long n = from; n < to; ++n) {
        StoredResource r = User(n);
        // The entries the SCIM service indexes for a user (service IndexOf; the values are
        // lower-case ASCII already, so folded).
        std::string user_name = r.body["userName"];
        std::vector<IndexEntry> index = {{"externalId", r.body["externalId"]},
                                         {"userName", user_name},
                                         {"emails.value", user_name}};
        auto put = tx.PutResource(conn, r, user_name, index);
        if (!put) return put.error();
      }
      return Status::Ok();
    });
    if (!st) {
      std::fprintf(stderr, "bulk_users: %s\n", st.error().detail.c_str());
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"users\": %lld, \"seconds\": %.3f, \"users_per_s\": %.0f}\n", total, secs,
              secs > 0 ? total / secs : 0.0);
  return 0;
}
