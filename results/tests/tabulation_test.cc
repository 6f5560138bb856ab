// Tabulation per area: totals, shares, turnout, reporting vs expected at every level.
#include "ewarn/results/tabulation.h"

#include <gtest/gtest.h>

namespace ewarn::results {
namespace {

CountedSheet Counted(std::string id, std::string ward, int64_t a, int64_t b, int64_t rejected, int64_t registered) {
  CountedSheet c{std::move(id), std::move(ward), registered, 0, {}};
  auto* va = c.sheet.add_votes();
  va->set_candidate("A");
  va->set_votes(a);
  auto* vb = c.sheet.add_votes();
  vb->set_candidate("B");
  vb->set_votes(b);
  c.sheet.set_rejected(rejected);
  return c;
}

TEST(Tabulation, TotalsSharesAndTurnoutAtEveryLevelUnderTheArea) {
  std::vector<CountedSheet> sheets = {Counted("s1", "LA/IK/W1", 60, 40, 2, 200), Counted("s2", "LA/IK/W2", 30, 70, 0, 150),
                                      Counted("s3", "KA/NA/G1", 90, 10, 5, 400)};
  CountedSheet doc{"s4", "LA/IK/W1", 100, 0, {}};
  doc.sheet.mutable_document()->set_url("https://x");
  sheets.push_back(doc);
  sheets[1].sheet.set_registered(300);  // the sheet's own count wins
  std::map<std::string, int64_t> expected = {{"LA", 10}, {"LA/IK", 10}, {"LA/IK/W1", 6}, {"LA/IK/W2", 4},
                                             {"KA", 5},  {"KA/NA", 5},  {"KA/NA/G1", 5}};
  auto all = Tabulate(sheets, expected, "");
  ASSERT_EQ(all.front().area, "");
  EXPECT_EQ(all.front().level, "all");
  EXPECT_EQ(all.front().stations_expected, 15);
  EXPECT_EQ(all.front().stations_reporting, 4);
  EXPECT_EQ(all.front().document_only, 1);
  EXPECT_EQ(all.front().votes.at("A"), 180);
  EXPECT_NEAR(all.front().shares.at("A"), 180.0 / 300.0, 1e-12);

  auto lagos = Tabulate(sheets, expected, "LA");
  ASSERT_EQ(lagos.size(), 4u);  // LA, LA/IK, LA/IK/W1, LA/IK/W2
  EXPECT_EQ(lagos[0].area, "LA");
  EXPECT_EQ(lagos[0].level, "region");
  EXPECT_EQ(lagos[0].stations_reporting, 3);
  EXPECT_EQ(lagos[0].stations_with_votes, 2);
  EXPECT_EQ(lagos[0].valid_votes, 200);
  EXPECT_EQ(lagos[0].rejected, 2);
  EXPECT_EQ(lagos[0].registered, 500);
  EXPECT_NEAR(lagos[0].turnout, 202.0 / 500.0, 1e-12);
  EXPECT_EQ(lagos[2].area, "LA/IK/W1");
  EXPECT_EQ(lagos[2].level, "ward");
  EXPECT_EQ(lagos[2].stations_expected, 6);
  EXPECT_EQ(lagos[3].stations_reporting, 1);
  // A ward with no sheet still shows what was expected.
  auto kano = Tabulate({}, expected, "KA/NA");
  ASSERT_EQ(kano.size(), 2u);
  EXPECT_EQ(kano[1].stations_expected, 5);
  EXPECT_EQ(kano[1].stations_reporting, 0);
  EXPECT_TRUE(Tabulate(sheets, expected, "LAX").front().votes.empty());  // whole segments only
}

}  // namespace
}  // namespace ewarn::results
