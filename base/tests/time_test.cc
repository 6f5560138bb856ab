#include "ewarn/base/time.h"

#include <gtest/gtest.h>

namespace ewarn {
namespace {

TEST(TimeTest, ParsesRfc3339WithZoneAndFraction) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("2027-02-25T08:30:00Z"), 1803544200000);
  EXPECT_EQ(*ParseRfc3339("2027-02-25T09:30:00.250+01:00"), 1803544200250);
  EXPECT_EQ(*ParseRfc3339("2027-02-25T07:00:00-01:30"), 1803544200000);
}

TEST(TimeTest, RejectsWhatIsNotRfc3339) {
  for (const char* bad : {"", "2027-02-25", "2027-02-25T08:30:00", "2027-13-01T00:00:00Z",
                          "2027-02-25T08:30:00Zjunk", "yesterday", "2027-02-25T08:30:00.Z"}) {
    Result<TimeMs> r = ParseRfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(TimeTest, RejectsDaysTheMonthDoesNotHave) {
  for (const char* bad : {"2026-02-30T10:00:00Z", "2026-11-31T10:00:00Z", "2026-02-29T10:00:00Z",
                          "1900-02-29T00:00:00Z", "2027-04-31T00:00:00Z", "2027-06-00T00:00:00Z"}) {
    Result<TimeMs> r = ParseRfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad << " parsed as " << (r.ok() ? FormatRfc3339(*r) : "");
  }
  EXPECT_NE(ParseRfc3339("2026-02-30T10:00:00Z").status().message().find("not a calendar date"), std::string::npos);
  // Leap days that exist, and months' last days.
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2028-02-29T10:00:00Z")), "2028-02-29T10:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2000-02-29T00:00:00Z")), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2026-12-31T23:59:59Z")), "2026-12-31T23:59:59.000Z");
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2026-11-30T00:00:00Z")), "2026-11-30T00:00:00.000Z");
}

TEST(TimeTest, FormatRoundTrips) {
  for (TimeMs t : {TimeMs{0}, TimeMs{1803544200250}, TimeMs{951782400000}, TimeMs{-1}}) {
    EXPECT_EQ(*ParseRfc3339(FormatRfc3339(t)), t) << FormatRfc3339(t);
  }
  EXPECT_EQ(FormatRfc3339(1803544200250), "2027-02-25T08:30:00.250Z");
}

}  // namespace
}  // namespace ewarn
