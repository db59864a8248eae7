#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/thread_name.h"
#include "base/time.h"
#include "base/uuid.h"

namespace idsync {
namespace {

TEST(ParseJsonStrict, AcceptsOrdinaryDocuments) {
  auto v = ParseJsonStrict(R"({"a":[1,2.5,"x",true,null],"b":{"c":-3}})");
  ASSERT_TRUE(v) << v.error().detail;
  EXPECT_EQ((*v)["b"]["c"], -3);
}

TEST(MemberOrNull, ReadsAMemberInPlaceAndNullOtherwise) {
  const Json body = {{"attributes", {{"mail", {{"value", "a@x"}}}}}, {"n", 1}};
  const Json& attrs = MemberOrNull(body, "attributes");
  EXPECT_EQ(&attrs, &body["attributes"]);  // the member itself, not a copy
  EXPECT_EQ(MemberOrNull(attrs["mail"], "value"), "a@x");
  EXPECT_TRUE(MemberOrNull(body, "missing").is_null());
  EXPECT_TRUE(MemberOrNull(body["n"], "value").is_null());  // not an object
  EXPECT_TRUE(MemberOrNull(Json::array({1}), "0").is_null());
}

TEST(ParseJsonStrict, RejectsHostileInput) {
  const char* cases[] = {
      R"({"a":1,"a":2})",               // duplicate key
      R"({"a":{},"a":1})",              // duplicate key after an object value
      R"({"a":[1],"b":2,"a":[]})",      // duplicate key after an array value
      R"({"x":{"k":1,"k":2}})",         // duplicate key in a nested object
      "{\"a\":\"\xff\xfe\"}",           // invalid UTF-8
      R"({"a":"\ud800"})",              // lone surrogate
      R"({"a":1e400})",                 // overflows double
      R"({"a":99999999999999999999})",  // overflows int64
      R"({"a":1} x)",                   // trailing data
      R"({"a":)",                       // truncated
      "",
  };
  for (const char* text : cases) {
    auto v = ParseJsonStrict(text);
    EXPECT_FALSE(v) << text;
    if (!v) {
      EXPECT_EQ(v.error().code, ErrorCode::kInvalidSyntax);
    }
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(ParseJsonStrict(deep));
  // The same key in different objects is no duplicate.
  for (const char* text : {R"({"a":{"a":1}})", R"([{"a":1},{"a":2}])", R"({"a":{"b":1},"b":{}})"}) {
    auto v = ParseJsonStrict(text);
    EXPECT_TRUE(v) << text;
    if (v) {
      EXPECT_EQ(*v, Json::parse(text));
    }
  }
}

// nlohmann's own serializer: DumpJson and AppendJsonString must write exactly what it writes.
std::string NlohmannDump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

TEST(AppendJsonString, WritesAStringExactlyAsNlohmannDoes) {
  auto appended = [](std::string_view s) {
    std::string out;
    AppendJsonString(out, s);
    return out;
  };
  const std::vector<std::string> cases = {"",
                                          "plain",
                                          "quote \" and \\ backslash",
                                          std::string("nul\0inside", 10),
                                          "\b\f\n\r\t\x01\x1f\x7f",
                                          "Grüße, 日本, 😀",
                                          "\xff\xfe",
                                          "\x80",
                                          "\xc3",
                                          "a\xc3",
                                          "\xc0\xaf",
                                          "\xe0\x80\xaf",
                                          "\xed\xa0\x80",
                                          "\xf4\x90\x80\x80",
                                          "\xf0\x9f\x98",
                                          "\xe2\x82x",
                                          "\xf5\x80\x80\x80",
                                          "ok\xe2\x82\xacok"};
  for (const auto& c : cases) EXPECT_EQ(appended(c), NlohmannDump(Json(c))) << c;
  // Random byte strings, weighted towards the bytes that start or continue UTF-8 sequences.
  std::mt19937 rng(20261207);
  const unsigned char alphabet[] = {'a',  '"',  '\\', 0x00, 0x1f, 0x7f, 0x80, 0x8f,
                                    0x90, 0x9f, 0xa0, 0xbf, 0xc1, 0xc2, 0xdf, 0xe0,
                                    0xe1, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff};
  for (int n = 0; n < 20000; ++n) {
    std::string s(rng() % 9, '\0');
    for (char& ch : s) ch = static_cast<char>(alphabet[rng() % sizeof alphabet]);
    ASSERT_EQ(appended(s), NlohmannDump(Json(s))) << testing::PrintToString(s);
  }
}

// Equal, and of the same JSON types down to signed and unsigned integers (which == ignores).
void ExpectSameValue(const Json& a, const Json& b, const std::string& where) {
  ASSERT_EQ(a.type(), b.type()) << where << ": " << a.dump() << " vs " << b.dump();
  if (a.is_discarded()) return;  // not JSON for either (and discarded values never compare equal)
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      ASSERT_EQ(ia.key(), ib.key()) << where;
      ExpectSameValue(*ia, *ib, where + "." + ia.key());
    }
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (size_t i = 0; i < a.size(); ++i)
      ExpectSameValue(a[i], b[i], where + "[" + std::to_string(i) + "]");
  } else if (a.is_number_float()) {
    ASSERT_EQ(std::signbit(a.get<double>()), std::signbit(b.get<double>())) << where;
    ASSERT_EQ(a, b) << where;
  } else {
    ASSERT_EQ(a, b) << where;
  }
}

Json RandomValue(std::mt19937& rng, int depth) {
  const std::vector<std::string> strings = {"",
                                            "a",
                                            "Grüße",
                                            "日本",
                                            "😀",
                                            "q\"b\\s",
                                            std::string("nul\0x", 5),
                                            "\n\t\x01",
                                            "/Users/x",
                                            "2026-12-07T10:00:00.000Z",
                                            "x\xffy\xe2\x82"};
  switch (rng() % (depth > 4 ? 6 : 8)) {
    case 0: return Json();
    case 1: return Json(rng() % 2 == 0);
    case 2: return Json(static_cast<int64_t>(rng()) - (1LL << 31));
    case 3: {
      const std::vector<Json> edges = {Json(0),         Json(-1),         Json(INT64_MIN),
                                       Json(INT64_MAX), Json(UINT64_MAX), Json(uint64_t{1} << 63),
                                       Json(0.5),       Json(-0.0),       Json(1e300),
                                       Json(-2.5e-300), Json(3.0),        Json(0.1)};
      return edges[rng() % edges.size()];
    }
    case 4:
      return Json(std::ldexp(static_cast<double>(rng()), static_cast<int>(rng() % 200) - 100));
    case 5: return Json(strings[rng() % strings.size()]);
    case 6: {
      Json object = Json::object();
      for (unsigned n = rng() % 6; n > 0; --n)
        object[strings[rng() % strings.size()] + std::to_string(rng() % 4)] =
            RandomValue(rng, depth + 1);
      return object;
    }
    default: {
      Json array = Json::array();
      for (unsigned n = rng() % 6; n > 0; --n) array.push_back(RandomValue(rng, depth + 1));
      return array;
    }
  }
}

TEST(ParseStoredJson, MakesWhatJsonParseMakesOfTheSameText) {
  std::mt19937 rng(7);
  for (int n = 0; n < 3000; ++n) {
    const std::string text = DumpJson(RandomValue(rng, 0));
    ExpectSameValue(ParseStoredJson(text), Json::parse(text), text);
  }
  // Texts the fast path refuses or does not take: nlohmann decides.
  // "-0" is the integer 0 for both; simdjson's is unsigned where nlohmann's is signed (DumpJson
  // never writes it).
  EXPECT_EQ(ParseStoredJson("-0"), Json::parse("-0"));
  for (std::string text :
       {std::string("123456789012345678901234567890"), std::string("{\"a\":1,\"a\":2}"),
        std::string("[1e400]"), std::string("{\"b\":1,\"a\":[true,null]}"),
        "[\"" + std::string(40000, 'x') + "\"]"}) {
    ExpectSameValue(ParseStoredJson(text), Json::parse(text, nullptr, false), text.substr(0, 60));
  }
  for (std::string bad : {"", "{", "[1,]", "nul", "{\"a\" 1}", "\"\xff\"", "1 2"}) {
    EXPECT_TRUE(ParseStoredJson(bad).is_discarded()) << bad;
    EXPECT_TRUE(Json::parse(bad, nullptr, false).is_discarded()) << bad;
  }
}

TEST(DumpJson, WritesExactlyWhatNlohmannWrites) {
  std::mt19937 rng(11);
  for (int n = 0; n < 3000; ++n) {
    const Json value = RandomValue(rng, 0);
    ASSERT_EQ(DumpJson(value), NlohmannDump(value));
  }
  for (const Json& value :
       {Json(), Json::object(), Json::array(), Json(std::nan("")), Json(INFINITY), Json(1.0),
        Json(1e21), Json(1e-7), Json(-0.0), Json(uint64_t{18446744073709551615u}), Json(INT64_MIN),
        Json{{"b", {1, "x\xff", nullptr}}, {"a", {{"c", false}}}}}) {
    EXPECT_EQ(DumpJson(value), NlohmannDump(value));
  }
}

TEST(LogJsonLine, IsOneObjectInOrderWithARepeatedKeyInItsFirstPlace) {
  log::Fields fields = {{"status", "200"},
                        {"path", "/Users/\"x\"\n"},
                        {"status", "503"},
                        {"msg", "overridden"},
                        {"bad", "\xff"}};
  std::string line = log::JsonLine("2026-12-07T10:00:00.000Z", "info", "access", fields);
  nlohmann::ordered_json expected;
  expected["time"] = "2026-12-07T10:00:00.000Z";
  expected["level"] = "info";
  expected["msg"] = "access";
  for (const auto& [k, v] : fields) expected[k] = v;
  EXPECT_EQ(line, expected.dump(-1, ' ', false, Json::error_handler_t::replace));
  EXPECT_EQ(line,
            "{\"time\":\"2026-12-07T10:00:00.000Z\",\"level\":\"info\",\"msg\":\"overridden\","
            "\"status\":\"503\",\"path\":\"/Users/\\\"x\\\"\\n\",\"bad\":\"\xef\xbf\xbd\"}");
}

TEST(FoldCase, IsUnicodeAware) {
  EXPECT_EQ(FoldCase("ALICE@Example.COM"), "alice@example.com");
  EXPECT_EQ(FoldCase("ÄNNE"), FoldCase("änne"));
  EXPECT_EQ(FoldCase("STRASSE"), FoldCase("straße"));
  EXPECT_TRUE(EqualsFolded("ΣΊΣΥΦΟΣ", "σίσυφος"));
  EXPECT_FALSE(EqualsFolded("alice", "alicf"));
}

TEST(Rfc3339, RoundTripsAndAcceptsOffsets) {
  auto t = ParseRfc3339("2026-11-23T05:06:47.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-23T05:06:47.123Z");
  auto o = ParseRfc3339("2026-11-23T07:06:47+02:00");
  ASSERT_TRUE(o);
  EXPECT_EQ(FormatRfc3339(*o), "2026-11-23T05:06:47.000Z");
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("yesterday"));
}

// FormatRfc3339 writes its digits itself; gmtime_r and printf are the reference, over random
// milliseconds across all a TimePoint holds (nanoseconds in 64 bits: 1677 to 2262) and the days
// where calendars go wrong.
TEST(Rfc3339, FormatsAsGmtimeDoes) {
  auto reference = [](int64_t ms) {
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - secs * 1000));
    return std::string(buf);
  };
  auto at = [](int64_t ms) { return FromUnixMillis(ms); };
  const int64_t kFirst = -9'223'372'036'854;  // the first and last whole milliseconds of a
  const int64_t kLast = 9'223'372'036'854;    // TimePoint: 1677-09-21 and 2262-04-11
  std::vector<int64_t> cases = {0,
                                -1,
                                1,
                                999,
                                -999,
                                -1000,
                                -1001,
                                86399999,
                                86400000,
                                -86400000,
                                951782400000 /* 2000-02-29 */,
                                951868799999,
                                -2203891200000 /* 1900-03-01 */,
                                4107456000000,
                                4107542399999 /* 2100-02-28, last ms */,
                                kFirst,
                                kLast};
  std::mt19937_64 random(20261207);
  std::uniform_int_distribution<int64_t> any(kFirst, kLast);
  for (int i = 0; i < 200000; ++i) cases.push_back(any(random));
  for (int64_t ms : cases) ASSERT_EQ(FormatRfc3339(at(ms)), reference(ms)) << ms;
  EXPECT_EQ(FormatRfc3339(at(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(at(951782400000)), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(at(kLast)), "2262-04-11T23:47:16.854Z");
}

TEST(Tokens, AreLongRandomAndPrefixed) {
  auto a = NewToken("idsync_scim_");
  auto b = NewToken("idsync_scim_");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("idsync_scim_", 0), 0u);
  EXPECT_EQ(a.size(), std::string("idsync_scim_").size() + 43);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_TRUE(IsUuid(NewUuid()));
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(Uuids, OrderedOnesCarryTheirMillisecondFirstAndSortByIt) {
  const int64_t before = UnixMs();
  const std::string id = NewOrderedUuid();
  const int64_t after = UnixMs();
  ASSERT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id[14], '7') << id;                                          // RFC 9562 version 7
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant 10xx
  const int64_t stamp = std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string later = NewOrderedUuid();
  EXPECT_LT(id, later);  // what puts a batch of creates at the right edge of each index
  EXPECT_NE(NewOrderedUuid(), NewOrderedUuid());  // same millisecond: 74 random bits differ
  EXPECT_EQ(NewUuid()[14], '4');
}

TEST(Uuids, IdsFromTheBufferedRandomBytesNeverRepeatAcrossThreadsOrAFork) {
  std::set<std::string> seen;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 5000; ++i) mine.push_back(i % 2 ? NewUuid() : NewOrderedUuid());
      std::lock_guard lock(mu);
      for (auto& id : mine) EXPECT_TRUE(seen.insert(id.substr(15)).second) << id;
    });
  }
  for (auto& t : threads) t.join();
  // A child of fork() starts with a copy of this thread's buffer: it must draw afresh, or its
  // first id would be the parent's next one.
  (void)NewUuid();  // the buffer now holds unused bytes
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string child = NewUuid();
    (void)!write(fds[1], child.data(), child.size());
    _exit(0);
  }
  close(fds[1]);
  char buf[36] = {};
  ASSERT_EQ(read(fds[0], buf, sizeof buf), 36);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_NE(std::string(buf, 36), NewUuid());
}

TEST(Rfc3339, TimesBeyondTheRepresentableRangeClampInsteadOfWrapping) {
  auto far = ParseRfc3339("2999-01-01T00:00:00Z");
  auto near = ParseRfc3339("2200-01-01T00:00:00Z");
  auto past = ParseRfc3339("1000-01-01T00:00:00Z");
  ASSERT_TRUE(far && near && past);
  EXPECT_GT(*far, *near);
  EXPECT_GT(*near, SystemClock::Instance().Now());
  EXPECT_LT(*past, *ParseRfc3339("1970-01-01T00:00:00Z"));
}

TEST(Base64, MatchesRfc4648AndRoundTripsUrlSafe) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Url(std::string("\xfb\xff", 2)), "-_8");
  for (std::string bytes : {std::string(), std::string("a"), std::string("\0\xff\x10", 3),
                            std::string(100, '\xfe')}) {
    auto back = DecodeBase64Url(Base64Url(bytes));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_FALSE(DecodeBase64Url("Zm9v+").has_value());  // '+' is not URL-safe
  EXPECT_FALSE(DecodeBase64Url("Zm9vY").has_value());  // impossible length
  EXPECT_FALSE(DecodeBase64Url("Zg==").has_value());   // no padding in base64url
  EXPECT_EQ(NewToken("p_").size(), 2u + 43u);
}

}  // namespace
}  // namespace idsync

namespace {
std::string ThisThreadsName() {
  std::ifstream comm("/proc/thread-self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}
}  // namespace

TEST(NameThisThread, NamesOnlyTheCallingThreadAndCutsAtFifteenCharacters) {
  const std::string before = ThisThreadsName();
  std::string inside;
  std::thread t([&] {
    idsync::NameThisThread("store-writer-with-a-long-name");
    inside = ThisThreadsName();
  });
  t.join();
  EXPECT_EQ(inside, "store-writer-wi");
  EXPECT_EQ(ThisThreadsName(), before);
}
