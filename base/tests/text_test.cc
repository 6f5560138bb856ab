#include "ewarn/base/text.h"

#include <gtest/gtest.h>

namespace ewarn {
namespace {

TEST(TextTest, JsonQuoteEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("say \"hi\"\\n"), "\"say \\\"hi\\\"\\\\n\"");
  EXPECT_EQ(JsonQuote(std::string("a\nb\x01", 4)), "\"a\\nb\\u0001\"");
  EXPECT_EQ(JsonQuote("Москва"), "\"Москва\"");  // UTF-8 as is
  // Not UTF-8: rendered losslessly, so the literal stays valid JSON (a 404 echoing a path did not).
  EXPECT_EQ(JsonQuote("/\xfc" "1/x\\"), "\"/\\\\xFC1/x\\\\\\\\\"");
  EXPECT_TRUE(IsValidUtf8(JsonQuote("\xff\xfe")));
}

TEST(TextTest, UrlEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(UrlEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(UrlEncode("INC 01/02 violence & more"), "INC%2001%2F02%20violence%20%26%20more");
  EXPECT_EQ(UrlEncode("+234"), "%2B234");
}

TEST(TextTest, Utf8IsValidatedStrictly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("Москва, École, \xf0\x9f\x98\x80"));
  for (std::string bad : {"\xff\xfe", "\xc0\xaf" /* overlong */, "\xed\xa0\x80" /* surrogate */,
                          "\xf4\x90\x80\x80" /* past U+10FFFF */, "\xe2\x82" /* cut */, "ok\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(TextTest, InvalidUtf8IsEscapedLosslessly) {
  EXPECT_EQ(EscapeInvalidUtf8("Москва"), "Москва");
  EXPECT_EQ(EscapeInvalidUtf8("{\"a\":\"\xff\xfe\"}"), "{\"a\":\"\\xFF\\xFE\"}");
  EXPECT_EQ(EscapeInvalidUtf8("back\\slash"), "back\\\\slash");  // so a literal \xFF stays apart
  EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8("\xc3\x28\xa0\xa1\xe2\x28\xa1")));
}

TEST(TextTest, Base64RoundTrips) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("\xff\xfe"), "//4=");
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (size_t n = 0; n < 7; ++n) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(all.substr(0, 250 + n)), &back));
    EXPECT_EQ(back, all.substr(0, 250 + n));
  }
  std::string out;
  for (const char* bad : {"Zg=", "Z===", "Zg=a", "Zm9v!", "=Zg="}) EXPECT_FALSE(Base64Decode(bad, &out)) << bad;
}

}  // namespace
}  // namespace ewarn
