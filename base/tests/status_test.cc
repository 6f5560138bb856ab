#include "ewarn/base/status.h"

#include <gtest/gtest.h>

namespace ewarn {
namespace {

Result<int> Half(int v) {
  if (v % 2) return Status::InvalidArgument(std::to_string(v) + " is odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int h, Half(v));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status Check(int v) {
  RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s = Status::NotFound("station 'X1' is not in the reference data");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: station 'X1' is not in the reference data");
  EXPECT_EQ(s.WithContext("in.incidents/3@17").message(),
            "in.incidents/3@17: station 'X1' is not in the reference data");
}

TEST(StatusTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_TRUE(Check(4).ok());
  EXPECT_EQ(Check(5).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ewarn
