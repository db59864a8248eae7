// A real OpenLDAP server for tests: configured, seeded and started in a private temporary
// directory, listening on free 127.0.0.1 ports only, and killed when the fixture is destroyed
// (also when the test process dies, via PR_SET_PDEATHSIG).
//
// Seeded directory (suffix dc=example,dc=com):
//   ou=people   `bulk_users` inetOrgPersons uid=user0000.. plus kSpecialUsers: alice (with the
//               test schema's idsyncAdUser: sAMAccountName "alice.ad" and a binary objectGUID
//               whose text is kAliceGuid), bob, and three users whose uid holds filter
//               metacharacters: "wild*card", "paren(s)", "back\slash"
//   ou=groups   staff (groupOfNames: alice, bob), admins (groupOfUniqueNames: alice),
//               devs (posixGroup, memberUid: alice, bob), cycle-a and cycle-b (groupOfNames
//               containing each other), parent (groupOfNames containing staff)
//   ou=system   cn=idsync, the service account (kServiceDn / kServicePassword)
//   ou=elsewhere a referral object pointing to ldap://127.0.0.1:1/
// The server's size limit (`size_limit`, soft and hard) applies to everyone but the rootdn;
// paged searches may go past it in total, as on Active Directory.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <sys/types.h>

#include "base/result.h"

namespace idsync::sync::ldap::testing {

struct SlapdOptions {
  bool tls = true;        // configure certificates: StartTLS and an ldaps:// listener
  int bulk_users = 1200;  // more than size_limit, so that reading them all needs paging
  int size_limit = 500;
  // groupOfNames "group000".. each with up to 40 of the bulk users (benchmarks).
  int bulk_groups = 0;
};

// Not thread-safe; one per test or test suite.
class SlapdFixture {
 public:
  static constexpr const char* kSuffix = "dc=example,dc=com";
  static constexpr const char* kPeopleDn = "ou=people,dc=example,dc=com";
  static constexpr const char* kGroupsDn = "ou=groups,dc=example,dc=com";
  static constexpr const char* kReferralDn = "ou=elsewhere,dc=example,dc=com";
  static constexpr const char* kRootDn = "cn=admin,dc=example,dc=com";
  static constexpr const char* kRootPassword = "root-secret";
  static constexpr const char* kServiceDn = "cn=idsync,ou=system,dc=example,dc=com";
  static constexpr const char* kServicePassword = "service-secret";
  static constexpr const char* kAliceGuid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
  static constexpr int kSpecialUsers = 5;
  static constexpr int kGroups = 6;

  // Why the fixture cannot run on this machine (slapd, slapadd, schema or openssl missing),
  // or nullopt if it can. Tests GTEST_SKIP with this reason.
  static std::optional<std::string> MissingPrerequisite();

  // Generates certificates (if options.tls), config and seed LDIF in a new temporary
  // directory, loads the seed with slapadd and starts slapd. Any failure is kInternal with
  // the command and the tail of its output; nothing is left running.
  static Result<std::unique_ptr<SlapdFixture>> Create(const SlapdOptions& options = {});

  SlapdFixture(const SlapdFixture&) = delete;
  SlapdFixture& operator=(const SlapdFixture&) = delete;
  ~SlapdFixture();  // kills slapd, removes the directory

  // Starts slapd again on the same ports (after Stop()), waiting until it accepts
  // connections; at most 10 s.
  Status Start();
  // Kills slapd with SIGKILL and reaps it: connections drop at once, as in a crash.
  void Stop();
  // Applies LDIF change records (ldapmodify as the rootdn): modify, add, delete, modrdn.
  // kInternal with ldapmodify's output on failure.
  Status Apply(const std::string& ldif);

  // SIGSTOP / SIGCONT: the server keeps its sockets but answers nothing (a hung server).
  void Pause();
  void Resume();

  std::string url() const;        // ldap://127.0.0.1:PORT
  std::string ldaps_url() const;  // ldaps://127.0.0.1:PORT; empty without TLS
  int port() const { return port_; }
  std::string ca_file() const;        // the CA that issued the server certificate
  std::string other_ca_file() const;  // an unrelated CA
  const SlapdOptions& options() const { return options_; }
  // The last lines slapd wrote, for failure messages.
  std::string LogTail() const;

 private:
  SlapdFixture() = default;
  Status Prepare();
  Status Launch();

  SlapdOptions options_;
  std::string dir_;
  int port_ = 0;
  int ldaps_port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace idsync::sync::ldap::testing
