#include "cli/version.h"

#include <archive.h>
#include <boost/version.hpp>
#include <ldap.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <unicode/uversion.h>
#include <zstd.h>

#include "cli/allocator.h"
#include "cli/version_info.h"

namespace idsync::cli {
namespace {

// libldap's run-time version, from LDAP_OPT_API_INFO (vendor version 20513 -> "2.5.13").
std::string LdapVersion() {
  LDAPAPIInfo info{};
  info.ldapai_info_version = LDAP_API_INFO_VERSION;
  if (ldap_get_option(nullptr, LDAP_OPT_API_INFO, &info) != LDAP_OPT_SUCCESS) return "unknown";
  int v = info.ldapai_vendor_version;
  std::string text = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
                     std::to_string(v % 100);
  if (info.ldapai_extensions) {
    for (char** e = info.ldapai_extensions; *e; ++e) ldap_memfree(*e);
    ldap_memfree(info.ldapai_extensions);
  }
  if (info.ldapai_vendor_name) ldap_memfree(info.ldapai_vendor_name);
  return text;
}

std::string IcuVersion() {
  UVersionInfo v;
  u_getVersion(v);
  char text[U_MAX_VERSION_STRING_LENGTH];
  u_versionToString(v, text);
  return text;
}

std::string BoostVersion() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
         "." + std::to_string(BOOST_VERSION % 100);
}

BuildInfo Collect() {
  BuildInfo b;
  b.version = IDSYNC_VERSION;
  b.commit = IDSYNC_COMMIT;
  // "libarchive 3.6.2 zlib/1.2.13 ..." -> "3.6.2"
  std::string libarchive = archive_version_string();
  if (libarchive.rfind("libarchive ", 0) == 0) libarchive = libarchive.substr(11);
  b.libraries = {
      {"sqlite", sqlite3_libversion()}, {"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)},
      {"boost", BoostVersion()},        {"libldap", LdapVersion()},
      {"zstd", ZSTD_versionString()},   {"icu", IcuVersion()},
      {"libarchive", libarchive},
  };
  // Last: the allocator the process runs with (tcmalloc in release builds; cli/allocator.h).
  b.libraries.push_back(AllocatorVersion());
  return b;
}

std::string EscapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info = Collect();
  return info;
}

std::string BuildInfoText() {
  const auto& b = GetBuildInfo();
  std::string out = "idsync " + b.version + " (commit " + b.commit + ")\n";
  for (const auto& [name, version] : b.libraries) out += name + " " + version + "\n";
  return out;
}

Json BuildInfoJson() {
  const auto& b = GetBuildInfo();
  Json libraries = Json::object();
  for (const auto& [name, version] : b.libraries) libraries[name] = version;
  return {{"version", b.version}, {"commit", b.commit}, {"libraries", libraries}};
}

std::string BuildInfoMetric() {
  const auto& b = GetBuildInfo();
  std::string out =
      "# HELP idsync_build_info Version, commit and linked library versions of this server.\n"
      "# TYPE idsync_build_info gauge\n"
      "idsync_build_info{version=\"" +
      EscapeLabel(b.version) + "\",commit=\"" + EscapeLabel(b.commit) + "\"";
  for (const auto& [name, version] : b.libraries) {
    out += "," + name + "=\"" + EscapeLabel(version) + "\"";
  }
  return out + "} 1\n";
}

}  // namespace idsync::cli
