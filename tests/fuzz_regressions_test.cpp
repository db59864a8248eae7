// Replays the fuzz corpus and every regression input (fuzz/corpus/<target>/,
// fuzz/regressions/<target>/) through the fuzz targets' own LLVMFuzzerTestOneInput, compiled
// here under another name (see tests/CMakeLists.txt). A target signals a broken property with
// __builtin_trap(); each input runs in a child process, so a failure names its file and the
// other inputs still run.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" int IdsyncFuzz_filter_parse(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_patch_apply(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_validate(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_patch_path(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_http_request(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_ldap_message(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_ldap_filter(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_ldap_dn(const uint8_t* data, size_t size);
extern "C" int IdsyncFuzz_ldap_filter_ber(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;
using FuzzFn = int (*)(const uint8_t*, size_t);

// Inputs whose finding is reported but not fixed yet, one path a line relative to fuzz/
// ("regressions/filter_parse/x.txt"), '#' starts a comment. They must still fail; the fix removes
// the line (a listed input that passes fails this test, so the list cannot go stale).
std::set<std::string> OpenFindings() {
  std::set<std::string> out;
  std::ifstream in(fs::path(IDSYNC_FUZZ_DIR) / "regressions" / "OPEN");
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) out.insert(line);
  }
  return out;
}

std::vector<fs::path> Inputs(const std::string& target, const char* kind) {
  std::vector<fs::path> out;
  fs::path dir = fs::path(IDSYNC_FUZZ_DIR) / kind / target;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs one input in a child process, so that a trap or a sanitizer abort fails this input only.
// Returns "" if the property held, else how the child ended.
std::string RunIsolated(FuzzFn fn, const std::string& bytes) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    int rc = fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    _exit(rc == 0 ? 0 : 3);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

// Runs every input of `target`; returns how many corpus inputs there were.
size_t Replay(const std::string& target, FuzzFn fn) {
  static const std::set<std::string> open = OpenFindings();
  size_t corpus = 0;
  for (const char* kind : {"regressions", "corpus"}) {
    for (const fs::path& path : Inputs(target, kind)) {
      if (std::string(kind) == "corpus") ++corpus;
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string failure = RunIsolated(fn, bytes);
      std::string rel = fs::relative(path, IDSYNC_FUZZ_DIR).generic_string();
      if (open.count(rel)) {
        EXPECT_NE(failure, "") << rel << " passes now: remove it from fuzz/regressions/OPEN";
      } else {
        EXPECT_EQ(failure, "") << "fuzz property broken on " << path
                               << " (rerun: build-fuzz/fuzz/" << target << "_fuzz " << path << ")";
      }
    }
  }
  return corpus;
}
// Every target has a seed corpus: a renamed or emptied directory must not pass silently.
TEST(FuzzRegressions, FilterParse) { EXPECT_GE(Replay("filter_parse", IdsyncFuzz_filter_parse), 10u); }
TEST(FuzzRegressions, PatchApply) { EXPECT_GE(Replay("patch_apply", IdsyncFuzz_patch_apply), 10u); }
TEST(FuzzRegressions, Validate) { EXPECT_GE(Replay("validate", IdsyncFuzz_validate), 4u); }
TEST(FuzzRegressions, PatchPath) { EXPECT_GE(Replay("patch_path", IdsyncFuzz_patch_path), 10u); }
TEST(FuzzRegressions, HttpRequest) { EXPECT_GE(Replay("http_request", IdsyncFuzz_http_request), 10u); }
TEST(FuzzRegressions, LdapMessage) { EXPECT_GE(Replay("ldap_message", IdsyncFuzz_ldap_message), 10u); }
TEST(FuzzRegressions, LdapFilter) { EXPECT_GE(Replay("ldap_filter", IdsyncFuzz_ldap_filter), 10u); }
TEST(FuzzRegressions, LdapDn) { EXPECT_GE(Replay("ldap_dn", IdsyncFuzz_ldap_dn), 10u); }
TEST(FuzzRegressions, LdapFilterBer) {
  EXPECT_GE(Replay("ldap_filter_ber", IdsyncFuzz_ldap_filter_ber), 10u);
}

}  // namespace
