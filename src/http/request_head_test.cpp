#include "http/request_head.h"

#include <gtest/gtest.h>

namespace idsync::http {
namespace {

TEST(HeadLineProblem, AcceptsOrdinaryHeads) {
  EXPECT_EQ(HeadLineProblem("GET / HTTP/1.1\r\n"), "");
  EXPECT_EQ(HeadLineProblem("GET / HTTP/1.1\r\nHost: x\r\nX-A:\r\nX-B: a b\tc\r\n"), "");
  EXPECT_EQ(HeadLineProblem("GARBAGE"), "");  // the request line is Beast's to judge
}

TEST(HeadLineProblem, RefusesObsoleteLineFolding) {
  EXPECT_NE(HeadLineProblem("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n"), "");
  EXPECT_NE(HeadLineProblem("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n"), "");
}

TEST(HeadLineProblem, RefusesWhitespaceBeforeTheFirstField) {
  EXPECT_NE(HeadLineProblem("GET / HTTP/1.1\r\n Host: x\r\n"), "");
}

TEST(HeadLineProblem, RefusesALineWithoutAColon) {
  EXPECT_NE(HeadLineProblem("GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n"), "");
}

TEST(HostProblem, Http11NeedsExactlyOne) {
  EXPECT_NE(HostProblem(11, {}), "");
  EXPECT_EQ(HostProblem(11, {"example.com"}), "");
  EXPECT_NE(HostProblem(11, {"a", "b"}), "");
  EXPECT_EQ(HostProblem(10, {}), "");
  EXPECT_NE(HostProblem(10, {"a", "a"}), "");
}

TEST(HostProblem, ValueIsAUriHostWithOptionalPort) {
  for (const char* ok : {"", "idsync.example.com", "127.0.0.1:8443", "[::1]", "[::1]:80",
                         "xn--bcher-kva.example", "a_b.local"}) {
    EXPECT_EQ(HostProblem(11, {ok}), "") << ok;
  }
  for (const char* bad : {"a b", "a/b", "user@host", "host:port", "[::1", "[::1]x", "ho\"st"}) {
    EXPECT_NE(HostProblem(11, {bad}), "") << bad;
  }
}

TEST(ContentCodingProblem, OnlyIdentityIsSupported) {
  EXPECT_EQ(ContentCodingProblem({}), "");
  EXPECT_EQ(ContentCodingProblem({"identity"}), "");
  EXPECT_EQ(ContentCodingProblem({"Identity , "}), "");
  EXPECT_NE(ContentCodingProblem({"gzip"}), "");
  EXPECT_NE(ContentCodingProblem({"identity, br"}), "");
  EXPECT_NE(ContentCodingProblem({"identity", "deflate"}), "");
}

}  // namespace
}  // namespace idsync::http
