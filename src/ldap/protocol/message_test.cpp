#include "ldap/protocol/message.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <lber.h>
#include <sys/mman.h>
#include <unistd.h>

namespace idsync::ldap {
namespace {

// Builds test input with liblber itself, as a client library would.
class Ber {
 public:
  Ber() : ber_(ber_alloc_t(LBER_USE_DER)) {}
  ~Ber() { ber_free(ber_, 1); }
  template <typename... Args>
  Ber& operator()(const char* format, Args... args) {
    EXPECT_NE(ber_printf(ber_, format, args...), -1) << format;
    return *this;
  }
  std::string Bytes() {
    berval bv{};
    EXPECT_EQ(ber_flatten2(ber_, &bv, 0), 0);
    return std::string(bv.bv_val, bv.bv_len);
  }

 private:
  BerElement* ber_;
};

ber_int_t I(int v) {
  return static_cast<ber_int_t>(v);
}
ber_tag_t T(unsigned v) {
  return static_cast<ber_tag_t>(v);
}
ber_len_t L(const std::string& s) {
  return static_cast<ber_len_t>(s.size());
}

// Hex digits to bytes; spaces are for readability and skipped.
std::string Hex(std::string_view spaced) {
  std::string hex;
  for (char c : spaced) {
    if (c != ' ') hex.push_back(c);
  }
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string ToHex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
  }
  return out;
}

// A searchRequest for `filter_writer`'s filter, as message 7; the filter is written by a callback
// so that each test can build its own.
template <typename WriteFilter>
std::string Search(WriteFilter write_filter, std::vector<std::string> attributes = {"cn"}) {
  Ber ber;
  ber("{it{seeiib", I(7), T(0x63), "dc=example,dc=com", I(2), I(0), I(0), I(0), I(0));
  write_filter(ber);
  ber("{");
  for (const std::string& attribute : attributes) ber("s", attribute.c_str());
  ber("}}}");
  return ber.Bytes();
}

Filter SearchFilter(const Decoded& decoded) {
  EXPECT_TRUE(decoded.request) << decoded.error;
  if (!decoded.request) return {};
  return std::get<SearchRequest>(decoded.request->body).filter;
}

TEST(DecodeRequest, ReadsASimpleBindAsLdapsearchSendsIt) {
  // ldapsearch -x -D cn=a -w x, message 1.
  Decoded decoded = DecodeRequest(Hex("3011 020101 600c 020103 0404636e3d61 800178"));
  ASSERT_TRUE(decoded.request) << decoded.error;
  EXPECT_EQ(decoded.message_id, 1);
  EXPECT_EQ(decoded.request->op, Operation::kBind);
  const auto& bind = std::get<BindRequest>(decoded.request->body);
  EXPECT_EQ(bind.version, 3);
  EXPECT_EQ(bind.name, "cn=a");
  EXPECT_TRUE(bind.simple);
  EXPECT_EQ(bind.password, "x");
  EXPECT_TRUE(decoded.request->controls.empty());
}

// Bytes that end exactly where readable memory ends: the page after them is PROT_NONE, so a
// read one byte past the end crashes the test. liblber makes that read after the last element
// of a buffer (ber.h); a fuzzer found it through a message whose buffer ended on a page.
class PageEnd {
 public:
  explicit PageEnd(const std::string& bytes) : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    base_ = static_cast<char*>(p);
    EXPECT_EQ(mprotect(base_ + page_, page_, PROT_NONE), 0);
    char* start = base_ + page_ - bytes.size();
    std::memcpy(start, bytes.data(), bytes.size());
    view_ = std::string_view(start, bytes.size());
  }
  ~PageEnd() { munmap(base_, 2 * page_); }
  std::string_view view() const { return view_; }

 private:
  size_t page_;
  char* base_ = nullptr;
  std::string_view view_;
};

TEST(DecodeRequest, NeverReadsPastTheEndOfTheMessageOrControlValue) {
  PageEnd bind(Hex("3011 020101 600c 020103 0404636e3d61 800178"));
  Decoded decoded = DecodeRequest(bind.view());
  ASSERT_TRUE(decoded.request) << decoded.error;
  EXPECT_EQ(std::get<BindRequest>(decoded.request->body).password, "x");
  PageEnd value(EncodePagedResults(25, "next"));
  auto paged = DecodePagedResults(value.view());
  ASSERT_TRUE(paged);
  EXPECT_EQ(paged->size, 25);
  EXPECT_EQ(paged->cookie, "next");
}

TEST(DecodeRequest, ReadsSaslBinds) {
  std::string credentials("\x00\x01z", 3);
  Decoded with = DecodeRequest(Ber()("{it{ist{so}}}", I(2), T(0x60), I(3), "", T(0xa3), "PLAIN",
                                     credentials.data(), L(credentials))
                                   .Bytes());
  ASSERT_TRUE(with.request) << with.error;
  const auto& bind = std::get<BindRequest>(with.request->body);
  EXPECT_FALSE(bind.simple);
  EXPECT_EQ(bind.sasl_mechanism, "PLAIN");
  EXPECT_EQ(bind.sasl_credentials, credentials);

  Decoded without =
      DecodeRequest(Ber()("{it{ist{s}}}", I(2), T(0x60), I(3), "", T(0xa3), "EXTERNAL").Bytes());
  ASSERT_TRUE(without.request) << without.error;
  EXPECT_FALSE(std::get<BindRequest>(without.request->body).sasl_credentials.has_value());
}

TEST(DecodeRequest, ReadsASearchWithNestedFilterAndPagedControl) {
  std::string paged = EncodePagedResults(100, "");
  Ber ber;
  ber("{it{seeiib", I(5), T(0x63), "ou=people,dc=example,dc=com", I(1), I(3), I(50), I(10), I(1));
  ber("t{t{ss}t{t{ss}t{s{tsts}}}t{ts}}", T(0xa0), T(0xa3), "objectClass", "person", T(0xa1),
      T(0xa3), "uid", "a", T(0xa4), "cn", T(0x80), "b", T(0x82), "c", T(0xa2), T(0x87), "mail");
  ber("{sss}}", "cn", "mail", "1.1");
  ber("t{{sbo}}}", T(0xa0), kPagedResultsOid.data(), I(1), paged.data(), L(paged));
  Decoded decoded = DecodeRequest(ber.Bytes());
  ASSERT_TRUE(decoded.request) << decoded.error;
  EXPECT_EQ(decoded.message_id, 5);
  EXPECT_EQ(decoded.request->op, Operation::kSearch);
  const auto& search = std::get<SearchRequest>(decoded.request->body);
  EXPECT_EQ(search.base, "ou=people,dc=example,dc=com");
  EXPECT_EQ(search.scope, Scope::kOneLevel);
  EXPECT_EQ(search.deref, 3);
  EXPECT_EQ(search.size_limit, 50);
  EXPECT_EQ(search.time_limit, 10);
  EXPECT_TRUE(search.types_only);
  EXPECT_EQ(FilterToString(search.filter), "(&(objectClass=person)(|(uid=a)(cn=b*c))(!(mail=*)))");
  EXPECT_EQ(search.attributes, (std::vector<std::string>{"cn", "mail", "1.1"}));
  ASSERT_EQ(decoded.request->controls.size(), 1u);
  const Control& control = decoded.request->controls[0];
  EXPECT_EQ(control.oid, kPagedResultsOid);
  EXPECT_TRUE(control.critical);
  ASSERT_TRUE(control.value);
  auto value = DecodePagedResults(*control.value);
  ASSERT_TRUE(value);
  EXPECT_EQ(value->size, 100);
  EXPECT_EQ(value->cookie, "");
}

TEST(DecodeRequest, ReadsEveryFilterKind) {
  struct Case {
    std::string expected;
    std::string message;
  };
  std::string binary("\x00*(", 3);
  std::vector<Case> cases = {
      {"(cn=\\00\\2a\\28)",
       Search([&](Ber& b) { b("t{so}", T(0xa3), "cn", binary.data(), L(binary)); })},
      {"(uidNumber>=10)", Search([](Ber& b) { b("t{ss}", T(0xa5), "uidNumber", "10"); })},
      {"(uidNumber<=20)", Search([](Ber& b) { b("t{ss}", T(0xa6), "uidNumber", "20"); })},
      {"(sn~=smyth)", Search([](Ber& b) { b("t{ss}", T(0xa8), "sn", "smyth"); })},
      {"(cn=*)", Search([](Ber& b) { b("ts", T(0x87), "cn"); })},
      {"(cn=a*)", Search([](Ber& b) { b("t{s{ts}}", T(0xa4), "cn", T(0x80), "a"); })},
      {"(cn=*b*c*)",
       Search([](Ber& b) { b("t{s{tsts}}", T(0xa4), "cn", T(0x81), "b", T(0x81), "c"); })},
      {"(cn=*z)", Search([](Ber& b) { b("t{s{ts}}", T(0xa4), "cn", T(0x82), "z"); })},
      {"(cn:dn:caseExactMatch:=X)", Search([](Ber& b) {
         b("t{tstststb}", T(0xa9), T(0x81), "caseExactMatch", T(0x82), "cn", T(0x83), "X", T(0x84),
           I(1));
       })},
      {"(:2.5.13.5:=X)",
       Search([](Ber& b) { b("t{tsts}", T(0xa9), T(0x81), "2.5.13.5", T(0x83), "X"); })},
      {"(cn:=X)", Search([](Ber& b) { b("t{tsts}", T(0xa9), T(0x82), "cn", T(0x83), "X"); })},
      {"(&)", Search([](Ber& b) { b("t{}", T(0xa0)); })},
      {"(|)", Search([](Ber& b) { b("t{}", T(0xa1)); })},
  };
  for (const Case& c : cases) {
    Filter filter = SearchFilter(DecodeRequest(c.message));
    EXPECT_EQ(FilterToString(filter), c.expected);
    auto parsed = ParseFilter(c.expected);
    ASSERT_TRUE(parsed) << c.expected;
    EXPECT_EQ(FilterToString(*parsed), c.expected);
  }
}

TEST(DecodeRequest, EnforcesSubstringRules) {
  auto substrings = [](std::vector<std::pair<unsigned, std::string>> parts) {
    return Search([&](Ber& b) {
      b("t{s{", T(0xa4), "cn");
      for (const auto& [tag, value] : parts) b("ts", T(tag), value.c_str());
      b("}}");
    });
  };
  EXPECT_TRUE(
      DecodeRequest(substrings({{0x80, "a"}, {0x81, "b"}, {0x81, "c"}, {0x82, "d"}})).request);
  EXPECT_TRUE(DecodeRequest(substrings({{0x81, "b"}})).request);
  const std::vector<std::vector<std::pair<unsigned, std::string>>> bad = {
      {},                          // at least one
      {{0x81, "b"}, {0x80, "a"}},  // initial not first
      {{0x80, "a"}, {0x80, "b"}},  // two initials
      {{0x82, "z"}, {0x81, "b"}},  // final not last
      {{0x82, "z"}, {0x82, "y"}},  // two finals
      {{0x83, "x"}},               // no such choice
  };
  for (const auto& parts : bad) {
    Decoded decoded = DecodeRequest(substrings(parts));
    EXPECT_FALSE(decoded.request);
    EXPECT_EQ(decoded.message_id, 7);
  }
}

TEST(DecodeRequest, RefusesInvalidFilterElements) {
  std::vector<std::string> messages = {
      Search([](Ber& b) { b("t{t{ss}t{ss}}", T(0xa2), T(0xa3), "a", "b", T(0xa3), "c", "d"); }),
      Search([](Ber& b) { b("t{}", T(0xa2)); }),                     // empty not
      Search([](Ber& b) { b("ts", T(0x87), ""); }),                  // empty present
      Search([](Ber& b) { b("t{ss}", T(0xa3), "c(n", "x"); }),       // bad description
      Search([](Ber& b) { b("t{sss}", T(0xa3), "cn", "x", "y"); }),  // extra element
      Search([](Ber& b) { b("t{s}", T(0xa3), "cn"); }),              // missing value
      Search([](Ber& b) { b("t{ts}", T(0xa9), T(0x83), "X"); }),     // no rule, no type
      Search([](Ber& b) { b("t{tsts}", T(0xa9), T(0x81), "dn", T(0x83), "X"); }),
      Search([](Ber& b) { b("t{ss}", T(0xaa), "cn", "x"); }),  // unknown choice
      Search([](Ber& b) { b("t{ss}", T(0x83), "cn", "x"); }),  // primitive AVA tag
  };
  for (const std::string& message : messages) {
    Decoded decoded = DecodeRequest(message);
    EXPECT_FALSE(decoded.request) << ToHex(message);
    EXPECT_EQ(decoded.message_id, 7);
    EXPECT_FALSE(decoded.error.empty());
  }
}

std::string NestedAnd(size_t depth) {
  return Search([depth](Ber& b) {
    for (size_t i = 0; i < depth; ++i) b("t{", T(0xa0));
    b("ts", T(0x87), "cn");
    for (size_t i = 0; i < depth; ++i) b("}");
  });
}

TEST(DecodeRequest, LimitsFilterDepthAndNodes) {
  EXPECT_TRUE(DecodeRequest(NestedAnd(32)).request);
  Decoded deep = DecodeRequest(NestedAnd(33));
  EXPECT_FALSE(deep.request);
  EXPECT_EQ(deep.message_id, 7);

  std::string wide = Search([](Ber& b) {
    b("t{", T(0xa1));
    for (int i = 0; i < 20; ++i) b("ts", T(0x87), "cn");
    b("}");
  });
  DecodeLimits limits;
  limits.max_filter_nodes = 21;
  EXPECT_TRUE(DecodeRequest(wide, limits).request);
  limits.max_filter_nodes = 20;
  EXPECT_FALSE(DecodeRequest(wide, limits).request);
}

TEST(DecodeRequest, LimitsAttributesAndControls) {
  std::string message = Search([](Ber& b) { b("ts", T(0x87), "cn"); }, {"a", "b", "c"});
  DecodeLimits limits;
  limits.max_attributes = 3;
  EXPECT_TRUE(DecodeRequest(message, limits).request);
  limits.max_attributes = 2;
  EXPECT_FALSE(DecodeRequest(message, limits).request);

  Ber ber;
  ber("{it{isto}t{", I(3), T(0x60), I(3), "", T(0x80), "", L(std::string()), T(0xa0));
  for (int i = 0; i < 3; ++i) ber("{s}", "1.2.3");
  ber("}}");
  std::string with_controls = ber.Bytes();
  limits.max_controls = 3;
  Decoded ok = DecodeRequest(with_controls, limits);
  ASSERT_TRUE(ok.request) << ok.error;
  EXPECT_EQ(ok.request->controls.size(), 3u);
  EXPECT_FALSE(ok.request->controls[0].critical);
  EXPECT_FALSE(ok.request->controls[0].value);
  limits.max_controls = 2;
  EXPECT_FALSE(DecodeRequest(with_controls, limits).request);
}

TEST(DecodeRequest, ReadsTheOtherOperations) {
  Decoded unbind = DecodeRequest(Ber()("{itn}", I(9), T(0x42)).Bytes());
  ASSERT_TRUE(unbind.request) << unbind.error;
  EXPECT_EQ(unbind.request->op, Operation::kUnbind);
  EXPECT_EQ(Hex("30050201094200"), Ber()("{itn}", I(9), T(0x42)).Bytes());

  Decoded del = DecodeRequest(Ber()("{its}", I(9), T(0x4a), "cn=x,o=y").Bytes());
  ASSERT_TRUE(del.request) << del.error;
  EXPECT_EQ(del.request->op, Operation::kDelete);
  EXPECT_EQ(std::get<WriteRequest>(del.request->body).dn, "cn=x,o=y");

  Decoded abandon = DecodeRequest(Hex("3006020103500105"));
  ASSERT_TRUE(abandon.request) << abandon.error;
  EXPECT_EQ(abandon.request->op, Operation::kAbandon);
  EXPECT_EQ(std::get<AbandonRequest>(abandon.request->body).message_id, 5);

  Decoded starttls =
      DecodeRequest(Ber()("{it{ts}}", I(1), T(0x77), T(0x80), "1.3.6.1.4.1.1466.20037").Bytes());
  ASSERT_TRUE(starttls.request) << starttls.error;
  EXPECT_EQ(starttls.request->op, Operation::kExtended);
  const auto& extended = std::get<ExtendedRequest>(starttls.request->body);
  EXPECT_EQ(extended.oid, "1.3.6.1.4.1.1466.20037");
  EXPECT_FALSE(extended.value);

  Decoded whoami = DecodeRequest(
      Ber()("{it{tsts}}", I(1), T(0x77), T(0x80), "1.3.6.1.4.1.4203.1.11.3", T(0x81), "v").Bytes());
  ASSERT_TRUE(whoami.request) << whoami.error;
  EXPECT_EQ(std::get<ExtendedRequest>(whoami.request->body).value, "v");

  Decoded compare =
      DecodeRequest(Ber()("{it{s{ss}}}", I(4), T(0x6e), "cn=x", "mail", "a@b").Bytes());
  ASSERT_TRUE(compare.request) << compare.error;
  const auto& cmp = std::get<CompareRequest>(compare.request->body);
  EXPECT_EQ(cmp.dn, "cn=x");
  EXPECT_EQ(cmp.attribute, "mail");
  EXPECT_EQ(cmp.value, "a@b");

  Decoded modify =
      DecodeRequest(Ber()("{it{s{{e{s[s]}}}}}", I(4), T(0x66), "cn=x", I(2), "sn", "y").Bytes());
  ASSERT_TRUE(modify.request) << modify.error;
  EXPECT_EQ(modify.request->op, Operation::kModify);
  EXPECT_EQ(std::get<WriteRequest>(modify.request->body).dn, "cn=x");

  Decoded add = DecodeRequest(Ber()("{it{s{{s[s]}}}}", I(4), T(0x68), "cn=x", "cn", "x").Bytes());
  ASSERT_TRUE(add.request) << add.error;
  EXPECT_EQ(add.request->op, Operation::kAdd);

  Decoded moddn = DecodeRequest(Ber()("{it{ssb}}", I(4), T(0x6c), "cn=x", "cn=y", I(1)).Bytes());
  ASSERT_TRUE(moddn.request) << moddn.error;
  EXPECT_EQ(moddn.request->op, Operation::kModifyDn);
  EXPECT_EQ(std::get<WriteRequest>(moddn.request->body).dn, "cn=x");
}

TEST(DecodeRequest, UnknownOperationKeepsTheMessageId) {
  // [APPLICATION 25] intermediateResponse is not a request.
  Decoded decoded = DecodeRequest(Ber()("{it{s}}", I(42), T(0x79), "x").Bytes());
  EXPECT_FALSE(decoded.request);
  EXPECT_EQ(decoded.message_id, 42);
  EXPECT_FALSE(decoded.error.empty());
  // A response tag sent as a request.
  decoded = DecodeRequest(EncodeBindResponse(43, {}));
  EXPECT_FALSE(decoded.request);
  EXPECT_EQ(decoded.message_id, 43);
}

TEST(DecodeRequest, RefusesBadMessageIds) {
  for (int id : {0, -1}) {
    Decoded decoded = DecodeRequest(Ber()("{itn}", I(id), T(0x42)).Bytes());
    EXPECT_FALSE(decoded.request) << id;
    EXPECT_EQ(decoded.message_id, 0) << id;
  }
  Decoded max = DecodeRequest(Ber()("{itn}", I(2147483647), T(0x42)).Bytes());
  ASSERT_TRUE(max.request);
  EXPECT_EQ(max.message_id, 2147483647);
  // Five content octets do not fit a MessageID.
  EXPECT_FALSE(DecodeRequest(Hex("3009020500800000004200")).request);
  // Zero content octets are not an INTEGER.
  EXPECT_FALSE(DecodeRequest(Hex("300402004200")).request);
}

TEST(DecodeRequest, RefusesEveryTruncation) {
  std::string message = NestedAnd(3);
  for (size_t n = 0; n < message.size(); ++n) {
    EXPECT_FALSE(DecodeRequest(message.substr(0, n)).request) << n;
  }
  EXPECT_TRUE(DecodeRequest(message).request);
  EXPECT_FALSE(DecodeRequest(message + '\0').request);
}

TEST(DecodeRequest, RefusesLengthsThatCrossTheirElement) {
  // Bind whose simple password [0] claims 2 bytes inside a bind SEQUENCE that has 1.
  EXPECT_FALSE(DecodeRequest(Hex("3011020101600c0201030404636e3d61800278")).request);
  // The bind SEQUENCE ends before its last element: the 'x' is outside it.
  EXPECT_FALSE(DecodeRequest(Hex("3011020101600b0201030404636e3d61800178")).request);
  // A trailing byte inside the bind SEQUENCE.
  EXPECT_FALSE(DecodeRequest(Hex("3012020101600d0201030404636e3d6180017800")).request);
  // Indefinite length inside the message.
  EXPECT_FALSE(DecodeRequest(Hex("3011020101608002010304046 36e3d61800178")).request);
  EXPECT_FALSE(DecodeRequest(Hex("30110201016080020103040463 6e3d6180017800 00")).request);
  // A constructed OCTET STRING (0x24) where LDAP wants a primitive one.
  EXPECT_FALSE(DecodeRequest(Hex("3013020101600e020103240604046 36e3d61800178")).request);
  // Version 0 and 128.
  EXPECT_FALSE(DecodeRequest(Hex("3011020101600c0201000404636e3d61800178")).request);
  EXPECT_FALSE(DecodeRequest(Hex("3012020101600d020200800404636e3d61800178")).request);
  // Not a SEQUENCE at all, and an empty input.
  EXPECT_FALSE(DecodeRequest(Hex("3111020101600c0201030404636e3d61800178")).request);
  EXPECT_FALSE(DecodeRequest("").request);
}

TEST(DecodeRequest, RefusesSearchFieldsOutOfRange) {
  auto search = [](int scope, int deref, int size, int time) {
    Ber ber;
    ber("{it{seeiib", I(7), T(0x63), "", I(scope), I(deref), I(size), I(time), I(0));
    ber("ts{}}}", T(0x87), "objectClass");
    return ber.Bytes();
  };
  Decoded subordinates = DecodeRequest(search(3, 0, 0, 0));
  ASSERT_TRUE(subordinates.request) << subordinates.error;
  EXPECT_EQ(std::get<SearchRequest>(subordinates.request->body).scope, Scope::kSubordinates);
  EXPECT_FALSE(DecodeRequest(search(4, 0, 0, 0)).request);
  EXPECT_FALSE(DecodeRequest(search(-1, 0, 0, 0)).request);
  EXPECT_FALSE(DecodeRequest(search(0, 4, 0, 0)).request);
  EXPECT_FALSE(DecodeRequest(search(0, 0, -1, 0)).request);
  EXPECT_FALSE(DecodeRequest(search(0, 0, 0, -5)).request);
}

TEST(PeekFrame, ShortAndLongLengths) {
  std::string bind = Hex("3011020101600c0201030404636e3d61800178");
  Frame frame = PeekFrame(bind, 1024);
  EXPECT_EQ(frame.status, Frame::kComplete);
  EXPECT_EQ(frame.total_bytes, bind.size());
  EXPECT_EQ(PeekFrame(bind + "\x30", 1024).status, Frame::kComplete);  // next message follows
  EXPECT_EQ(PeekFrame(bind.substr(0, 10), 1024).status, Frame::kNeedMore);
  EXPECT_EQ(PeekFrame("", 1024).status, Frame::kNeedMore);
  EXPECT_EQ(PeekFrame("\x30", 1024).status, Frame::kNeedMore);

  std::string long_form = Hex("3082012c") + std::string(300, 'x');
  frame = PeekFrame(long_form, 1024);
  EXPECT_EQ(frame.status, Frame::kComplete);
  EXPECT_EQ(frame.total_bytes, 304u);
  EXPECT_EQ(PeekFrame(long_form.substr(0, 3), 1024).status, Frame::kNeedMore);
  frame = PeekFrame(long_form.substr(0, 100), 1024);
  EXPECT_EQ(frame.status, Frame::kNeedMore);
  EXPECT_EQ(frame.total_bytes, 304u);
  EXPECT_EQ(PeekFrame(Hex("308101") + "x", 1024).status, Frame::kComplete);  // non-minimal is fine
  EXPECT_EQ(PeekFrame(long_form, 303).status, Frame::kTooLarge);
  EXPECT_EQ(PeekFrame(long_form, 304).status, Frame::kComplete);
}

TEST(PeekFrame, RefusesTwoGigabytesFromTheHeaderAlone) {
  Frame frame = PeekFrame(Hex("308480000000"), 16 << 20);
  EXPECT_EQ(frame.status, Frame::kTooLarge);
  EXPECT_EQ(frame.total_bytes, 6u + 0x80000000u);
  EXPECT_EQ(PeekFrame(Hex("3084ffffffff"), 16 << 20).status, Frame::kTooLarge);
}

TEST(PeekFrame, RefusesMalformedHeaders) {
  EXPECT_EQ(PeekFrame(Hex("3080020101"), 1024).status, Frame::kMalformed);      // indefinite
  EXPECT_EQ(PeekFrame(Hex("30850000000001"), 1024).status, Frame::kMalformed);  // 5 octets
  EXPECT_EQ(PeekFrame(Hex("30ff"), 1024).status, Frame::kMalformed);
  EXPECT_EQ(PeekFrame(Hex("6003020103"), 1024).status, Frame::kMalformed);  // not SEQUENCE
  EXPECT_EQ(PeekFrame(Hex("00"), 1024).status, Frame::kMalformed);
}

TEST(PagedResults, RoundTrips) {
  std::string cookie("\x00\x01\xffnext", 7);
  std::string value = EncodePagedResults(1234, cookie);
  auto decoded = DecodePagedResults(value);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size, 1234);
  EXPECT_EQ(decoded->cookie, cookie);
  EXPECT_EQ(ToHex(EncodePagedResults(0, "")),
            "3005020100040"
            "0");
  EXPECT_EQ(DecodePagedResults(EncodePagedResults(-5, "c"))->size, 0);
  EXPECT_EQ(DecodePagedResults(EncodePagedResults(int64_t{1} << 40, "c"))->size, 2147483647);
}

TEST(PagedResults, RefusesMalformedValues) {
  EXPECT_FALSE(DecodePagedResults(""));
  EXPECT_FALSE(DecodePagedResults(Hex("3003020164")));  // no cookie
  EXPECT_TRUE(DecodePagedResults(Hex("3005 020164 0400")));
  EXPECT_FALSE(DecodePagedResults(Hex("3005 020164 0400") + "x"));  // after the SEQUENCE
  EXPECT_FALSE(DecodePagedResults(Hex("3007 020164 0400 00")));     // length says 7, has 5+1
  EXPECT_FALSE(DecodePagedResults(Hex("3005 0201ff 0400")));        // negative size
  EXPECT_FALSE(DecodePagedResults(Hex("3006 020164 0400 05")));     // trailing in SEQUENCE
  EXPECT_FALSE(DecodePagedResults(Hex("3005 0400 020164")));        // swapped
}

TEST(Encode, BindResponseMatchesSlapdBytes) {
  // slapd's answer to a successful simple bind, message 1.
  EXPECT_EQ(ToHex(EncodeBindResponse(1, {})), "300c02010161070a010004000400");
  LdapResult result{kInvalidCredentials, "", "bad"};
  EXPECT_EQ(ToHex(EncodeBindResponse(2, result)),
            ToHex(Hex("300f 020102 610a 0a0131 0400 0403626164")));
}

TEST(Encode, SearchEntryAndDone) {
  std::vector<Attribute> attributes = {{"cn", {"a", "b"}}, {"mail", {}}};
  EXPECT_EQ(ToHex(EncodeSearchEntry(3, "cn=a", attributes, false)),
            ToHex(Hex("3025 020103 6420 0404636e3d61 3018 300c 0402636e 3106 040161 040162"
                      " 3008 04046d61696c 3100")));
  EXPECT_EQ(ToHex(EncodeSearchEntry(3, "cn=a", {{"cn", {"a"}}}, true)),
            ToHex(Hex("3015 020103 6410 0404636e3d61 3008 3006 0402636e 3100")));

  std::string paged = EncodePagedResults(0, "");
  std::string done = EncodeSearchDone(3, {}, {{std::string(kPagedResultsOid), false, paged}});
  // Read it back with liblber the way a client does.
  berval bv{static_cast<ber_len_t>(done.size()), done.data()};
  BerElement* ber = ber_init(&bv);
  ASSERT_NE(ber, nullptr);
  ber_int_t id = 0;
  ber_int_t code = -1;
  berval matched{}, message{}, oid{}, value{};
  ber_tag_t tag = ber_scanf(ber, "{i{emm}{{mm}}}", &id, &code, &matched, &message, &oid, &value);
  EXPECT_NE(tag, LBER_ERROR);
  EXPECT_EQ(id, 3);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(std::string(oid.bv_val, oid.bv_len), kPagedResultsOid);
  EXPECT_EQ(std::string(value.bv_val, value.bv_len), paged);
  ber_free(ber, 1);
  EXPECT_EQ(static_cast<unsigned char>(done[5]), 0x65u);  // [APPLICATION 5]
}

TEST(Encode, ResponseTagsFollowTheOperation) {
  struct Case {
    Operation op;
    unsigned char tag;
  };
  for (Case c :
       {Case{Operation::kModify, 0x67}, Case{Operation::kAdd, 0x69}, Case{Operation::kDelete, 0x6b},
        Case{Operation::kModifyDn, 0x6d}, Case{Operation::kCompare, 0x6f}}) {
    std::string bytes = EncodeResponse(4, c.op, {kUnwillingToPerform, "", "read-only"});
    EXPECT_EQ(static_cast<unsigned char>(bytes[5]), c.tag);
    EXPECT_EQ(PeekFrame(bytes, 1024).status, Frame::kComplete);
    EXPECT_EQ(PeekFrame(bytes, 1024).total_bytes, bytes.size());
  }
}

TEST(Encode, ExtendedResponseAndNoticeOfDisconnection) {
  EXPECT_EQ(
      ToHex(EncodeExtendedResponse(1, {}, std::string("1.3.6.1.4.1.1466.20037"), std::nullopt)),
      ToHex(Hex(
          "3024 020101 781f 0a0100 0400 0400 8a16 312e332e362e312e342e312e313436362e3230303337")));
  std::string notice = EncodeNoticeOfDisconnection(kProtocolError, "bye");
  berval bv{static_cast<ber_len_t>(notice.size()), notice.data()};
  BerElement* ber = ber_init(&bv);
  ASSERT_NE(ber, nullptr);
  ber_int_t id = -1;
  ber_int_t code = -1;
  ber_tag_t op_tag = 0;
  ber_len_t len = 0;
  berval matched{}, message{}, oid{};
  EXPECT_NE(ber_scanf(ber, "{i", &id), LBER_ERROR);
  op_tag = ber_peek_tag(ber, &len);
  EXPECT_NE(ber_scanf(ber, "{emmm}}", &code, &matched, &message, &oid), LBER_ERROR);
  EXPECT_EQ(id, 0);
  EXPECT_EQ(op_tag, 0x78u);
  EXPECT_EQ(code, kProtocolError);
  EXPECT_EQ(std::string(message.bv_val, message.bv_len), "bye");
  EXPECT_EQ(std::string(oid.bv_val, oid.bv_len), "1.3.6.1.4.1.1466.20036");
  ber_free(ber, 1);  // the bervals point into it
}

}  // namespace
}  // namespace idsync::ldap
