#include "ewarn/base/text.h"

#include <gtest/gtest.h>

namespace ewarn {
namespace {

TEST(TextTest, JsonQuoteEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("say \"hi\"\\n"), "\"say \\\"hi\\\"\\\\n\"");
  EXPECT_EQ(JsonQuote(std::string("a\nb\x01", 4)), "\"a\\nb\\u0001\"");
  EXPECT_EQ(JsonQuote("Москва"), "\"Москва\"");  // UTF-8 as is
}

TEST(TextTest, UrlEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(UrlEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(UrlEncode("INC 01/02 violence & more"), "INC%2001%2F02%20violence%20%26%20more");
  EXPECT_EQ(UrlEncode("+234"), "%2B234");
}

}  // namespace
}  // namespace ewarn
