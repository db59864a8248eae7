// bulk_users: loads N SCIM users straight into a connection's source mirror through the store
// (one write of `batch` users at a time), for benchmarks that need a large directory fast,
// such as the deep-page step of bench/deep_page.py (1,000,000 users in about a minute instead
// of the ~10 minutes of SCIM creates). Mirror rows and their index entries only: the
// effective directory is not derived, so use it for reads of /Users (paging, GET, filters),
// not for anything that reads layer 2 or LDAP. The server must not be running on the folder.
// With --derive, each batch is also derived into the effective directory in its own write, as
// a SCIM create derives it (DirectoryService::OnMirrorChanged over the batch's users), for the
// policy preview/apply benchmark (bench/policy_scale.py).
//   bulk_users DATA_DIR CONNECTION_NAME N [BATCH] [--derive]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "directory/directory_service.h"
#include "service/mirror_observer.h"
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
  bool derive = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--derive") derive = true;
    else args.push_back(argv[i]);
  }
  if (args.size() < 3) {
    std::fprintf(stderr, "usage: bulk_users DATA_DIR CONNECTION_NAME N [BATCH] [--derive]\n");
    return 2;
  }
  const std::string dir = args[0], name = args[1];
  const long long total = std::atoll(args[2].c_str());
  const long long batch = args.size() > 3 ? std::atoll(args[3].c_str()) : 20000;
  auto store = idsync::store::sqlite::SqliteStore::Open(dir, {});
  if (!store) {
    std::fprintf(stderr, "bulk_users: %s\n", store.error().detail.c_str());
    return 1;
  }
  int64_t conn = 0;
  idsync::store::Connection connection;
  auto found = (*store)->Read([&](Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) return c.error();
    conn = c->id;
    connection = *c;
    return Status::Ok();
  });
  if (!found) {
    std::fprintf(stderr, "bulk_users: %s\n", found.error().detail.c_str());
    return 1;
  }
  std::unique_ptr<idsync::directory::DirectoryService> directories;
  if (derive) {
    directories = std::make_unique<idsync::directory::DirectoryService>(
        **store, idsync::SystemClock::Instance());
  }
  auto t0 = std::chrono::steady_clock::now();
  for (long long from = 0; from < total; from += batch) {
    long long to = std::min(total, from + batch);
    auto st = (*store)->Write([&](Transaction& tx) -> Status {
      idsync::service::MirrorChange change;
      change.connection = &connection;
      change.request_id = "bulk_users";
      change.actor = "cli";
      change.operation = "create";
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
        change.users.insert(r.id);
      }
      if (directories) return directories->OnMirrorChanged(tx, change);
      return Status::Ok();
    });
    if (!st) {
      std::fprintf(stderr, "bulk_users: %s\n", st.error().detail.c_str());
      return 1;
    }
    if (directories) directories->AfterCommit();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"users\": %lld, \"seconds\": %.3f, \"users_per_s\": %.0f}\n", total, secs,
              secs > 0 ? total / secs : 0.0);
  return 0;
}
