// The stage itself: bad input, restart from committed state, interleaving across partitions.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

TEST_F(StationStageTest, BadInputIsDeadLetteredAndThePartitionMovesOn) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  v1::Event unknown = Header("ghost", t);
  unknown.mutable_turnout()->set_station_id("NOPE");
  AppendRaw("LAGOS/IKEJA", unknown);
  Turnout("ok1", "IK-1-0", t, 10);
  Turnout("late", "IK-1-0", t - 7 * 60 * kMin, 5);  // beyond 6 h of allowed lateness
  v1::Event future = Header("future", t + 60 * kMin);
  future.mutable_header()->set_received_time_ms(t);
  future.mutable_turnout()->set_station_id("IK-1-0");
  Append(future);
  v1::Event nokit = Header("nokit", t);
  nokit.mutable_kit()->set_station_id("IK-1-0");
  Append(nokit);
  Turnout("ok2", "IK-1-0", t + kMin, 20);
  Run();
  auto dlq = Read("dlq.processing");
  ASSERT_EQ(dlq.size(), 4u);
  std::string reasons;
  for (const auto& e : dlq) reasons += e.rejected().reason() + "\n";
  EXPECT_NE(reasons.find("unknown_station: 'NOPE'"), std::string::npos) << reasons;
  std::set<std::string> codes;
  for (const auto& e : dlq) codes.insert(e.rejected().reason_code());
  EXPECT_EQ(codes, (std::set<std::string>{"unknown_station", "late", "future", "missing_field"}));
  EXPECT_NE(reasons.find("late"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("future"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("kit_id"), std::string::npos) << reasons;
  EXPECT_EQ(runtime_->stats().skipped, 4);
  EXPECT_GE(runtime_->stats().processed, 2);
}

TEST_F(StationStageTest, RestartFromCommittedStateEqualsAnUninterruptedRun) {
  ImportStations();
  auto feed = [&](int part) {
    int64_t t0 = kOpen + part * 90 * kMin;
    for (int i = 0; i < 12; ++i) {
      Kit("k" + std::to_string(part) + "-" + std::to_string(i), "IK-2-" + std::to_string(i), t0, 50 * part + i);
      Turnout("t" + std::to_string(part) + "-" + std::to_string(i), "IK-1-" + std::to_string(i), t0 + kMin, 100 * part + i);
    }
    Incident("i" + std::to_string(part) + "a", "IK-1-0", t0 + 2 * kMin, "m1");
    Incident("i" + std::to_string(part) + "b", "IK-1-1", t0 + 3 * kMin, "m2");
    Hate("h" + std::to_string(part), "EP-2", t0, "c", "t" + std::to_string(part));
    TicksEveryMinute(t0 + 4 * kMin, t0 + 80 * kMin);
  };
  // Uninterrupted.
  for (int part = 0; part < 4; ++part) feed(part);
  Run();
  std::string whole = Digest();
  // Again in a fresh directory, with the process restarted (new runtime and processors, state
  // from the store) between parts.
  testing::TempDir other;
  Open(other);
  ImportStations();
  for (int part = 0; part < 4; ++part) {
    feed(part);
    Run();
    ASSERT_TRUE(runtime_->Close().ok());
    runtime_.reset();
  }
  EXPECT_EQ(Digest(), whole);
}

TEST_F(StationStageTest, InterleavingAcrossPartitionsDoesNotChangeTheResult) {
  ImportStations();
  // Per-partition order is what the log guarantees; across partitions any interleaving may
  // happen. Build one day of events, then append them in two different interleavings.
  struct Item {
    std::string district;
    std::function<void()> append;
  };
  auto build = [&](std::vector<Item>& items) {
    for (int i = 0; i < 12; ++i) {
      std::string a = "IK-1-" + std::to_string(i), b = "EP-" + std::to_string(i);
      int64_t t = kOpen + i * 7 * kMin;
      items.push_back({"IKEJA", [=, this] { Incident("x" + a, a, t, "m" + std::to_string(i % 4)); }});
      items.push_back({"MUSHIN", [=, this] { Turnout("y" + b, b, t, 40 * i); }});
      items.push_back({"MUSHIN", [=, this] { Kit("z" + b, b, t + kMin, 40 * i + 5); }});
      items.push_back({"IKEJA", [=, this] { Hate("w" + a, a, t, "mon" + std::to_string(i), "msg" + std::to_string(i)); }});
    }
  };
  ASSERT_NE(PartitionForKey("LAGOS/IKEJA", kPartitions), PartitionForKey("LAGOS/MUSHIN", kPartitions));
  std::vector<Item> items;
  build(items);
  for (auto& it : items) it.append();
  Run();
  std::string first = Digest();

  testing::TempDir other;
  Open(other);
  ImportStations();
  std::vector<Item> again;
  build(again);
  // All of MUSHIN first, then all of IKEJA: each district keeps its own order.
  for (auto& it : again) {
    if (it.district == "MUSHIN") it.append();
  }
  for (auto& it : again) {
    if (it.district == "IKEJA") it.append();
  }
  Run();
  // Ticks are not involved, so the per-partition sequences are identical.
  EXPECT_EQ(Digest(), first);
}

// Issue 13 (9): ewarn serve ticks every second; with nothing else happening, `risk` gets a
// tick a minute per partition (the alert stage's timers count in minutes), not one a second.
TEST_F(StationStageTest, AnIdleNodeForwardsATickAMinuteNotOneASecond) {
  ImportStations();
  for (int64_t t = kOpen; t < kOpen + 5 * kMin; t += 1000) Tick(t);
  Run();
  auto risk = Read(schemas::topic::kRisk);
  EXPECT_EQ(risk.size(), 5u * kPartitions);
  for (const auto& e : risk) EXPECT_TRUE(e.has_tick());
  // New liaisons are announced at once, within the minute.
  Tick(kOpen + 5 * kMin);
  v1::Event e = Header("tick:liaisons", kOpen + 5 * kMin + 2000);
  e.mutable_tick()->set_liaisons_end(3);
  e.mutable_header()->set_source(v1::SOURCE_TICKER);
  AppendRaw("LAGOS/IKEJA", e);
  Tick(kOpen + 5 * kMin + 3000);
  Run();
  EXPECT_EQ(Read(schemas::topic::kRisk).size(), 6u * kPartitions + 1);
}

}  // namespace
}  // namespace ewarn::processors::station_test
