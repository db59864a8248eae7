// What a failed Boost assertion does in builds with assertions (the ASan build, the fuzz
// replay test): the same as assert(), print and abort, except for one assertion known to be
// wrong. The Debug build defines BOOST_ENABLE_ASSERT_DEBUG_HANDLER (cmake/IdsyncHelpers.cmake);
// the other build types define NDEBUG and compile every BOOST_ASSERT away, as before.
//
// The exception: Boost.Beast 1.74 (Debian 12) asserts `n >= 5` in basic_parser's
// parse_chunk_header, but a final chunk that arrives in pieces ("0\r\n", then "\r", then "\n")
// legitimately reaches that point with 3 bytes, and the code after the assertion correctly asks
// for more input. Upstream corrected the assertion (boostorg/beast pull request 2861, 2024-05);
// the HTTP fuzz target found it (fuzz/regressions/http_request/beast_chunk_header_*). Drop this
// exception when Debian's Boost carries the fix.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <boost/assert.hpp>

namespace {

bool EndsWith(const char* s, const char* suffix) {
  size_t n = std::strlen(s), m = std::strlen(suffix);
  return n >= m && std::strcmp(s + n - m, suffix) == 0;
}

bool KnownWrong(const char* expr, const char* file) {
  return std::strcmp(expr, "n >= 5") == 0 &&
         EndsWith(file, "boost/beast/http/impl/basic_parser.ipp");
}

}  // namespace

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (KnownWrong(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function,
                          char const* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed: %s\n", file, line, function,
               expr, msg);
  std::abort();
}

}  // namespace boost
