// idsync_slapd_fixture: the C++ SlapdFixture as a process, for the Python end-to-end tests and
// the LDAP sync benchmark (so that they use the very same slapd configuration and seed LDIF).
//
//   idsync_slapd_fixture [--users N] [--groups N] [--size-limit N] [--no-tls]
//
// Prints one JSON line describing the server, then reads commands, one per line, from stdin
// and answers each with "ok" or "error <text>": `stop`, `start`, `pause`, `resume`,
// `apply <ldif file>`. End of input (or `quit`) stops slapd and exits.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "sync/ldap/testing/slapd_fixture.h"

using idsync::sync::ldap::testing::SlapdFixture;
using idsync::sync::ldap::testing::SlapdOptions;

int main(int argc, char** argv) {
  SlapdOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::stoi(argv[++i]) : 0; };
    if (arg == "--users") {
      options.bulk_users = next();
    } else if (arg == "--groups") {
      options.bulk_groups = next();
    } else if (arg == "--size-limit") {
      options.size_limit = next();
    } else if (arg == "--no-tls") {
      options.tls = false;
    } else {
      std::fprintf(stderr, "usage: %s [--users N] [--groups N] [--size-limit N] [--no-tls]\n",
                   argv[0]);
      return 2;
    }
  }
  auto fixture = SlapdFixture::Create(options);
  if (!fixture) {
    std::fprintf(stderr, "idsync_slapd_fixture: %s\n", fixture.error().detail.c_str());
    return 1;
  }
  SlapdFixture& f = **fixture;
  std::string line = "{\"url\": \"" + f.url() + "\", \"ldaps_url\": \"" + f.ldaps_url() +
                     "\", \"ca_file\": \"" + (options.tls ? f.ca_file() : "") +
                     "\", \"other_ca_file\": \"" + (options.tls ? f.other_ca_file() : "") +
                     "\", \"suffix\": \"" + SlapdFixture::kSuffix + "\", \"people_dn\": \"" +
                     SlapdFixture::kPeopleDn + "\", \"groups_dn\": \"" + SlapdFixture::kGroupsDn +
                     "\", \"service_dn\": \"" + SlapdFixture::kServiceDn +
                     "\", \"service_password\": \"" + SlapdFixture::kServicePassword +
                     "\", \"users\": " + std::to_string(options.bulk_users) + "}";
  std::cout << line << std::endl;
  std::string command;
  while (std::getline(std::cin, command)) {
    std::string reply = "ok";
    if (command == "quit") break;
    if (command == "stop") {
      f.Stop();
    } else if (command == "start") {
      if (auto s = f.Start(); !s) reply = "error " + s.error().detail;
    } else if (command == "pause") {
      f.Pause();
    } else if (command == "resume") {
      f.Resume();
    } else if (command.rfind("apply ", 0) == 0) {
      std::FILE* in = std::fopen(command.substr(6).c_str(), "rb");
      std::string ldif;
      if (in != nullptr) {
        char buf[4096];
        size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) ldif.append(buf, n);
        std::fclose(in);
        if (auto s = f.Apply(ldif); !s) reply = "error " + s.error().detail;
      } else {
        reply = "error cannot read " + command.substr(6);
      }
    } else {
      reply = "error unknown command";
    }
    for (char& c : reply) {
      if (c == '\n') c = ' ';
    }
    std::cout << reply << std::endl;
  }
  return 0;
}
