#include "sync/ldap/testing/slapd_fixture.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace idsync::sync::ldap::testing {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kSlapd = "/usr/sbin/slapd";
constexpr const char* kSlapadd = "/usr/sbin/slapadd";
constexpr const char* kLdapmodify = "/usr/bin/ldapmodify";
constexpr const char* kSchemaDir = "/etc/ldap/schema";
constexpr const char* kModuleDir = "/usr/lib/ldap";
constexpr std::chrono::seconds kCommandTimeout{60};
constexpr std::chrono::seconds kStartTimeout{10};

Error Failed(std::string detail) {
  return MakeError(ErrorCode::kInternal, std::move(detail));
}

std::string FindOpenssl() {
  for (const char* candidate : {"/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

std::string Tail(const std::string& path, std::size_t max_chars = 2000) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > max_chars) text = "..." + text.substr(text.size() - max_chars);
  return text;
}

Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Failed("cannot write " + path);
  return Status::Ok();
}

// Forks and execs argv[0] with stdin from /dev/null and stdout/stderr appended to `log`.
// The child dies with the test process (PR_SET_PDEATHSIG), so no slapd outlives a crash.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Failed("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int null_fd = open("/dev/null", O_RDONLY);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (null_fd < 0 || log_fd < 0) _exit(127);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` to exit, at most `timeout`; kills it past that. Returns the exit status, or
// an error if it had to be killed.
Result<int> WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (done < 0) return Failed("waitpid failed");
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Failed("timed out");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status RunCommand(const std::vector<std::string>& argv, const std::string& log) {
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  auto pid = Spawn(argv, log);
  if (!pid) return pid.error();
  auto code = WaitExit(*pid, kCommandTimeout);
  if (!code) return Failed(line + ": " + code.error().detail + "\n" + Tail(log));
  if (*code != 0) {
    return Failed(line + ": exit status " + std::to_string(*code) + "\n" + Tail(log));
  }
  return Status::Ok();
}

// A port that was free on 127.0.0.1 a moment ago. Another process may take it before slapd
// binds it; Launch() then retries with new ports.
Result<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Failed("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) return Failed("cannot bind a loopback port");
  return static_cast<int>(ntohs(address.sin_port));
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// An Active-Directory-style logon name, binary GUID and account flags (userAccountControl: 512
// a normal account, 514 a disabled one), under the OpenLDAP experimental arc
// 1.3.6.1.4.1.4203.666 (reserved for such use).
constexpr const char* kTestSchema = R"(# idsync test schema: AD-style attributes on OpenLDAP.
attributetype ( 1.3.6.1.4.1.4203.666.11.99.1.1 NAME 'sAMAccountName'
  DESC 'Active-Directory-style logon name (idsync tests)'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.1.2 NAME 'objectGUID'
  DESC 'Active-Directory-style binary GUID (idsync tests)'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.1.3 NAME 'userAccountControl'
  DESC 'Active-Directory-style account flags, 0x2 ACCOUNTDISABLE (idsync tests)'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.2.1 NAME 'idsyncAdUser'
  DESC 'Active-Directory-style user attributes (idsync tests)'
  AUXILIARY MAY ( sAMAccountName $ objectGUID $ userAccountControl ) )
)";

// RFC 4514 §2.4: a backslash in an attribute value is escaped in the DN. The seeded uids use
// no other character that needs it ('*', '(' and ')' do not).
std::string DnValue(const std::string& value) {
  std::string out;
  for (char c : value) out += c == '\\' ? std::string("\\5C") : std::string(1, c);
  return out;
}

std::string Person(const std::string& uid, const std::string& cn, const std::string& extra = {}) {
  std::string e = "dn: uid=" + DnValue(uid) + "," + SlapdFixture::kPeopleDn + "\n";
  e += "objectClass: inetOrgPerson\n";
  e += extra;
  e += "uid: " + uid + "\ncn: " + cn + "\nsn: " + cn + "\nmail: " + uid + "@example.com\n\n";
  return e;
}

std::string PersonDn(const std::string& uid) {
  return "uid=" + uid + "," + SlapdFixture::kPeopleDn;
}

std::string GroupDn(const std::string& cn) {
  return "cn=" + cn + "," + SlapdFixture::kGroupsDn;
}

std::string SeedLdif(const SlapdOptions& options) {
  std::string l;
  l += std::string("dn: ") + SlapdFixture::kSuffix +
       "\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n";
  for (const char* ou : {"people", "groups", "system"}) {
    l += std::string("dn: ou=") + ou + "," + SlapdFixture::kSuffix +
         "\nobjectClass: organizationalUnit\nou: " + ou + "\n\n";
  }
  l += std::string("dn: ") + SlapdFixture::kServiceDn +
       "\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: idsync\n"
       "userPassword: " +
       SlapdFixture::kServicePassword + "\n\n";
  l += std::string("dn: ") + SlapdFixture::kReferralDn +
       "\nobjectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\n"
       "ref: ldap://127.0.0.1:1/ou=elsewhere,dc=example,dc=com\n\n";
  // objectGUID bytes in Microsoft layout for 3f2504e0-4f89-11d3-9a0c-0305e82c3301.
  const std::string guid("\xe0\x04\x25\x3f\x89\x4f\xd3\x11\x9a\x0c\x03\x05\xe8\x2c\x33\x01", 16);
  l += Person(
      "alice", "Alice Example",
      "objectClass: idsyncAdUser\nsAMAccountName: alice.ad\nobjectGUID:: " + Base64(guid) + "\n");
  l += Person("bob", "Bob Example");
  l += Person("wild*card", "Wild Card");
  l += Person("paren(s)", "Paren S");
  l += Person("back\\slash", "Back Slash");
  for (int i = 0; i < options.bulk_users; ++i) {
    char uid[16];
    std::snprintf(uid, sizeof(uid), "user%04d", i);
    l += Person(uid, std::string("User ") + std::to_string(i));
  }
  auto group_of_names = [&](const std::string& cn, std::vector<std::string> members) {
    l += "dn: " + GroupDn(cn) + "\nobjectClass: groupOfNames\ncn: " + cn + "\n";
    for (const auto& m : members) l += "member: " + m + "\n";
    l += "\n";
  };
  group_of_names("staff", {PersonDn("alice"), PersonDn("bob")});
  group_of_names("cycle-a", {GroupDn("cycle-b"), PersonDn("alice")});
  group_of_names("cycle-b", {GroupDn("cycle-a"), PersonDn("bob")});
  group_of_names("parent", {GroupDn("staff")});
  for (int g = 0; g < options.bulk_groups && options.bulk_users > 0; ++g) {
    char cn[32];  // room for any int: g++ -O1 checks the bound (-Wformat-truncation)
    std::snprintf(cn, sizeof(cn), "group%03d", g);
    std::vector<std::string> members;
    for (int j = 0; j < 40 && j < options.bulk_users; ++j) {
      char uid[32];
      std::snprintf(uid, sizeof(uid), "user%04d", (g * 40 + j) % options.bulk_users);
      members.push_back(PersonDn(uid));
    }
    group_of_names(cn, members);
  }
  l += "dn: " + GroupDn("admins") + "\nobjectClass: groupOfUniqueNames\ncn: admins\n" +
       "uniqueMember: " + PersonDn("alice") + "\n\n";
  l += "dn: " + GroupDn("devs") +
       "\nobjectClass: posixGroup\ncn: devs\ngidNumber: 5000\nmemberUid: alice\nmemberUid: "
       "bob\n\n";
  return l;
}

std::string SlapdConf(const std::string& dir, const SlapdOptions& options) {
  std::string c = "# Generated by idsync's SlapdFixture for one test run.\n";
  for (const char* schema : {"core", "cosine", "inetorgperson", "nis"}) {
    c += std::string("include ") + kSchemaDir + "/" + schema + ".schema\n";
  }
  c += "include " + dir + "/idsync-test.schema\n";
  c += "pidfile " + dir + "/slapd.pid\nargsfile " + dir + "/slapd.args\n";
  c += std::string("modulepath ") + kModuleDir + "\nmoduleload back_mdb\n";
  // Soft and hard limit for everyone but the rootdn; paged searches may exceed it in total
  // (size.prtotal), which is how Active Directory's MaxPageSize behaves.
  const std::string limit = std::to_string(options.size_limit);
  c += "sizelimit size.soft=" + limit + " size.hard=" + limit + " size.prtotal=unlimited\n";
  if (options.tls) {
    c += "TLSCACertificateFile " + dir + "/ca.pem\n";
    c += "TLSCertificateFile " + dir + "/server.pem\n";
    c += "TLSCertificateKeyFile " + dir + "/server.key\n";
  }
  c += "database mdb\nmaxsize 268435456\n";
  c += std::string("suffix \"") + SlapdFixture::kSuffix + "\"\n";
  c += std::string("rootdn \"") + SlapdFixture::kRootDn + "\"\n";
  c += std::string("rootpw ") + SlapdFixture::kRootPassword + "\n";
  c += "directory " + dir + "/db\n";
  c += "index objectClass eq\nindex uid eq\n";
  c += "access to attrs=userPassword by self write by anonymous auth by * none\n";
  c += "access to * by * read\n";
  return c;
}

}  // namespace

std::optional<std::string> SlapdFixture::MissingPrerequisite() {
  if (access(kSlapd, X_OK) != 0) {
    return std::string(kSlapd) + " not found (apt-get install slapd; tools/install-deps.sh test)";
  }
  if (access(kSlapadd, X_OK) != 0) return std::string(kSlapadd) + " not found";
  if (access((std::string(kSchemaDir) + "/core.schema").c_str(), R_OK) != 0) {
    return std::string(kSchemaDir) + "/core.schema not found";
  }
  if (access((std::string(kModuleDir) + "/back_mdb.la").c_str(), R_OK) != 0) {
    return std::string(kModuleDir) + "/back_mdb.la not found";
  }
  if (FindOpenssl().empty()) return std::string("openssl not found");
  return std::nullopt;
}

Result<std::unique_ptr<SlapdFixture>> SlapdFixture::Create(const SlapdOptions& options) {
  if (auto missing = MissingPrerequisite()) return Failed(*missing);
  std::unique_ptr<SlapdFixture> fixture(new SlapdFixture());
  fixture->options_ = options;
  try {
    if (auto prepared = fixture->Prepare(); !prepared) return prepared.error();
    if (auto launched = fixture->Launch(); !launched) return launched.error();
  } catch (const std::exception& e) {
    return Failed(std::string("slapd fixture: ") + e.what());
  }
  return fixture;
}

Status SlapdFixture::Prepare() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/idsync-slapd-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return Failed("mkdtemp failed for " + pattern);
  dir_ = pattern;
  fs::create_directory(dir_ + "/db");
  const std::string log = dir_ + "/setup.log";

  if (options_.tls) {
    const std::string openssl = FindOpenssl();
    auto new_ca = [&](const std::string& name, const std::string& cn) {
      return RunCommand({openssl,
                         "req",
                         "-x509",
                         "-newkey",
                         "ec",
                         "-pkeyopt",
                         "ec_paramgen_curve:prime256v1",
                         "-nodes",
                         "-keyout",
                         dir_ + "/" + name + ".key",
                         "-out",
                         dir_ + "/" + name + ".pem",
                         "-days",
                         "30",
                         "-subj",
                         "/CN=" + cn,
                         "-addext",
                         "basicConstraints=critical,CA:TRUE",
                         "-addext",
                         "keyUsage=critical,keyCertSign,cRLSign"},
                        log);
    };
    if (auto s = new_ca("ca", "idsync test CA"); !s) return s;
    if (auto s = new_ca("other-ca", "idsync unrelated CA"); !s) return s;
    if (auto s = WriteFile(dir_ + "/server.ext",
                           "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                           "basicConstraints=CA:FALSE\n"
                           "keyUsage=critical,digitalSignature,keyEncipherment\n"
                           "extendedKeyUsage=serverAuth\n");
        !s) {
      return s;
    }
    if (auto s =
            RunCommand({openssl, "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir_ + "/server.key",
                        "-out", dir_ + "/server.csr", "-subj", "/CN=127.0.0.1"},
                       log);
        !s) {
      return s;
    }
    if (auto s =
            RunCommand({openssl, "x509", "-req", "-in", dir_ + "/server.csr", "-CA",
                        dir_ + "/ca.pem", "-CAkey", dir_ + "/ca.key", "-set_serial", "2", "-days",
                        "30", "-extfile", dir_ + "/server.ext", "-out", dir_ + "/server.pem"},
                       log);
        !s) {
      return s;
    }
  }
  if (auto s = WriteFile(dir_ + "/idsync-test.schema", kTestSchema); !s) return s;
  if (auto s = WriteFile(dir_ + "/slapd.conf", SlapdConf(dir_, options_)); !s) return s;
  if (auto s = WriteFile(dir_ + "/seed.ldif", SeedLdif(options_)); !s) return s;
  return RunCommand({kSlapadd, "-q", "-f", dir_ + "/slapd.conf", "-l", dir_ + "/seed.ldif"}, log);
}

Status SlapdFixture::Launch() {
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = FreeLoopbackPort();
    auto ldaps_port = FreeLoopbackPort();
    if (!port || !ldaps_port || *port == *ldaps_port) continue;
    port_ = *port;
    ldaps_port_ = options_.tls ? *ldaps_port : 0;
    if (auto started = Start(); started)
      return started;
    else
      last_error = started.error().detail;
  }
  return Failed("slapd did not start: " + last_error);
}

Status SlapdFixture::Start() {
  if (pid_ > 0) return Status::Ok();
  std::string listeners = "ldap://127.0.0.1:" + std::to_string(port_) + "/";
  if (ldaps_port_ != 0) listeners += " ldaps://127.0.0.1:" + std::to_string(ldaps_port_) + "/";
  const std::string log = dir_ + "/slapd.log";
  auto pid = Spawn({kSlapd, "-h", listeners, "-f", dir_ + "/slapd.conf", "-d", "0"}, log);
  if (!pid) return pid.error();
  pid_ = *pid;
  paused_ = false;
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Failed("slapd exited during startup:\n" + LogTail());
    }
    if (Accepts(port_) && (ldaps_port_ == 0 || Accepts(ldaps_port_))) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  return Failed("slapd did not accept connections within 10 s:\n" + LogTail());
}

void SlapdFixture::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  paused_ = false;
}

Status SlapdFixture::Apply(const std::string& ldif) {
  if (access(kLdapmodify, X_OK) != 0) {
    return Failed(std::string(kLdapmodify) + " not found (apt-get install ldap-utils)");
  }
  static int counter = 0;
  const std::string file = dir_ + "/change-" + std::to_string(++counter) + ".ldif";
  if (auto s = WriteFile(file, ldif); !s) return s;
  return RunCommand(
      {kLdapmodify, "-x", "-H", url(), "-D", kRootDn, "-w", kRootPassword, "-f", file},
      dir_ + "/ldapmodify.log");
}

void SlapdFixture::Pause() {
  if (pid_ > 0 && !paused_) {
    kill(pid_, SIGSTOP);
    paused_ = true;
    // kill() only queues the stop: on a loaded machine a slapd thread already running could
    // still answer the next request. Wait (bounded) until the kernel reports every thread
    // stopped (state T in /proc/PID/task/TID/stat).
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid_) + "/task";
    for (int i = 0; i < 2000; ++i) {
      bool all_stopped = true;
      std::error_code ec;
      for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
        std::ifstream stat(task.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const size_t close = line.rfind(')');
        if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') {
          all_stopped = false;
          break;
        }
      }
      if (all_stopped && !ec) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void SlapdFixture::Resume() {
  if (pid_ > 0 && paused_) {
    kill(pid_, SIGCONT);
    paused_ = false;
  }
}

SlapdFixture::~SlapdFixture() {
  Stop();  // SIGKILL also ends a stopped process
  if (!dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::string SlapdFixture::url() const {
  return "ldap://127.0.0.1:" + std::to_string(port_);
}

std::string SlapdFixture::ldaps_url() const {
  return ldaps_port_ == 0 ? std::string() : "ldaps://127.0.0.1:" + std::to_string(ldaps_port_);
}

std::string SlapdFixture::ca_file() const {
  return dir_ + "/ca.pem";
}
std::string SlapdFixture::other_ca_file() const {
  return dir_ + "/other-ca.pem";
}
std::string SlapdFixture::LogTail() const {
  return Tail(dir_ + "/slapd.log");
}

}  // namespace idsync::sync::ldap::testing
