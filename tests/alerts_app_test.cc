// Liaisons and alerts end to end: `ewarn liaison add` (the real binary) registers responders
// and prints their tokens; the alert stage raises an alert from a `risk` record; the alert HTTP
// API (app/alert_routes.cc, the router serve uses) lists it per area and takes an ack into
// in.events; the ack, forwarded to `risk` as the station stage does, acknowledges the alert;
// `ewarn alerts history` prints the audit trail.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "../app/alert_routes.h"
#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "cli_run.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

using namespace std::chrono_literals;

using testing::CliRun;

CliRun Ewarn(const std::string& args) { return testing::RunCli(std::string(EWARN_BIN) + " " + args); }

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

constexpr int32_t kPartitions = 8;
constexpr std::string_view kWard = "LAGOS/IKEJA/W1";

TEST(AlertsAppTest, LiaisonAddValidatesItsFlags) {
  ewarn::testing::TempDir dir;
  const std::string base = "liaison add --data " + dir.Sub("data") + " --name x --area LAGOS ";
  struct Case {
    std::string flags, message;
  } cases[] = {
      {"--role army", "--role must be police, peacekeeping or commission"},
      {"--role police --webhook ftp://example.org", "must be an http:// or https:// URL"},
      {"--role police --webhook https://", "has no usable host"},
      {"--role police --phone 0801-CALL-ME", "is not an international number"},
      {"--role police --phone +123", "is not an international number"},
      {"--role police --email nobody", "is not an e-mail address"},
      {"--role police --email a@b", "is not an e-mail address"},
      {"--role police --tier 0", "--tier must be 1..9"},
  };
  for (const auto& c : cases) {
    CliRun r = Ewarn(base + c.flags);
    EXPECT_EQ(r.code, 1) << c.flags << ": " << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.flags << ": " << r.out;
  }
  CliRun bad_area = Ewarn("liaison add --data " + dir.Sub("data") + " --name x --role police --area LAGOS//W1");
  EXPECT_EQ(bad_area.code, 1);
  EXPECT_NE(bad_area.out.find("is not an area path"), std::string::npos) << bad_area.out;
  EXPECT_EQ(Ewarn("liaison add --data " + dir.Sub("data") + " --name x --role police").code, 2);  // --area missing
  for (const char* cmd : {"liaison add", "alerts history", "alerts list"}) {
    CliRun help = Ewarn(std::string(cmd) + " --help");
    EXPECT_EQ(help.code, 0) << cmd;
    EXPECT_NE(help.out.find("Usage: ewarn " + std::string(cmd)), std::string::npos) << help.out;
  }
}

class AlertsApp {
 public:
  explicit AlertsApp(const std::string& data) {
    log = std::move(store::OpenEmbeddedLog({.dir = data + "/log"})).value();
    ingest_state = std::move(store::StateStore::Open({.dir = data + "/ingest", .stores = ingest::Ingestor::StoreNames()})).value();
    auto made = ingest::Ingestor::Make(*log, *ingest_state, clock, {.pseudonym_secret = "alerts-app-test-secret"}, kPartitions);
    if (!made.ok()) ADD_FAILURE() << made.status().ToString();
    ingestor = std::move(made).value();
    EXPECT_TRUE(log->CreateTopic({.name = "risk", .partitions = kPartitions}).ok());
    pipeline = alerts::AlertPipeline(kPartitions, processors::DefaultRules(), *log);
    for (const auto& t : pipeline.outputs) EXPECT_TRUE(log->CreateTopic(t).ok());
    std::vector<std::string> stores = pipeline.runtime.stores;
    stores.emplace_back(processors::kSeenStore);
    alert_state = std::move(store::StateStore::Open({.dir = data + "/state", .stores = stores})).value();
    ingest::AddIngestRoutes(router, *ingestor, 1 << 20);
    queries = readside::LocalQueries(*alert_state);  // the stage's own state: answers at once
    app::AddAlertRoutes(router, *ingestor, *queries, *log, kPartitions);
  }

  void ToRisk(v1::Event e, std::string_view area) {
    std::vector<store::OutRecord> r{{.topic = "risk",
                                     .key = std::string(area),
                                     .value = schemas::EncodeEvent(e),
                                     .timestamp_ms = e.header().event_time_ms(),
                                     .partition_key = schemas::DistrictKeyOfArea(area)}};
    ASSERT_TRUE(log->Append(r).ok());
  }

  void RunAlertStage() {
    auto rt = processors::TaskRuntime::Make(*log, *alert_state, pipeline.factory, pipeline.runtime, nullptr);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    Status st = (*rt)->RunUntilCaughtUp(10s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE((*rt)->Close().ok());
  }

  ingest::HttpResponse Call(const std::string& method, const std::string& target, const std::string& token,
                            const std::string& body = "") {
    ingest::HttpRequest req;
    req.method = method;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = ingest::ParseQuery(target.substr(q + 1));
    if (!token.empty()) req.headers.emplace_back("authorization", "Bearer " + token);
    req.body = body;
    std::string route;
    return router.Dispatch(req, &route);
  }

  SystemClock clock;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<store::StateStore> ingest_state;
  std::unique_ptr<ingest::Ingestor> ingestor;
  processors::Pipeline pipeline;
  std::unique_ptr<store::StateStore> alert_state;
  std::unique_ptr<readside::QuerySource> queries;
  ingest::HttpRouter router;
};

TEST(AlertsAppTest, LiaisonTokenSeesAndAcknowledgesOnlyItsAreasAlertsAndHistoryShowsWho) {
  ewarn::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  CliRun ward = Ewarn("liaison add --data " + data +
                      " --name ward-police --role police --area LAGOS/IKEJA/W1 --webhook https://ward.example/hook "
                      "--phone '+234 801 000 0001' --email ward@police.example");
  ASSERT_EQ(ward.code, 0) << ward.out;
  std::string ward_token = LastLine(ward.out);
  ASSERT_TRUE(ward_token.starts_with("ewt_")) << ward.out;
  CliRun epe = Ewarn("liaison add --data " + data + " --name epe-police --role police --area LAGOS/EPE --phone +2348010000002");
  ASSERT_EQ(epe.code, 0) << epe.out;
  std::string epe_token = LastLine(epe.out);
  CliRun again = Ewarn("liaison add --data " + data + " --name epe-police --role police --area LAGOS/EPE");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("already has an active token"), std::string::npos) << again.out;

  std::string id;
  {
    AlertsApp app(data);
    auto liaisons = app.log->Offsets({"ref.liaisons", 0});
    ASSERT_TRUE(liaisons.ok());
    EXPECT_EQ(liaisons->end, 2);
    std::string duty = *app.ingestor->principals().CreateToken("duty-room", ingest::Role::kDuty, "", 0);
    std::string monitor = *app.ingestor->principals().CreateToken("mon-1", ingest::Role::kMonitor, "", 0);

    int64_t t0 = 1'800'000'000'000;
    v1::Event tick;
    tick.mutable_header()->set_schema_version(1);
    tick.mutable_header()->set_event_id("tick-1");
    tick.mutable_header()->set_event_time_ms(t0);
    tick.mutable_tick()->set_liaisons_end(liaisons->end);
    app.ToRisk(tick, kWard);
    v1::Event risk;
    risk.mutable_header()->set_schema_version(1);
    risk.mutable_header()->set_event_id("risk-1");
    risk.mutable_header()->set_event_time_ms(t0 + 1000);
    risk.mutable_risk()->set_subject_id("ST-1");
    risk.mutable_risk()->set_area(std::string(kWard));
    risk.mutable_risk()->set_level(v1::RISK_LEVEL_HIGH);
    auto* f = risk.mutable_risk()->add_factors();
    f->set_detector("cluster");
    f->set_contribution(0.8);
    f->set_explanation("4 reports of violence within 300 m");
    app.ToRisk(risk, kWard);
    app.RunAlertStage();
    ASSERT_TRUE(alerts::ScanAlerts(*app.alert_state, [&](const alerts::AlertRecord& r) {
                  id = r.alert.alert_id();
                  return false;
                }).ok());
    ASSERT_FALSE(id.empty());

    // Reading: per area for liaisons, everything for the duty room, nothing for monitors.
    ingest::HttpResponse r = app.Call("GET", "/v1/alerts", ward_token);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"count\":1"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"recipient_ids\":[\"ward-police\"]"), std::string::npos) << r.body;
    EXPECT_NE(app.Call("GET", "/v1/alerts", epe_token).body.find("\"count\":0"), std::string::npos);
    EXPECT_NE(app.Call("GET", "/v1/alerts?state=open&area=LAGOS&level=high", duty).body.find("\"count\":1"),
              std::string::npos);
    EXPECT_NE(app.Call("GET", "/v1/alerts?level=critical", duty).body.find("\"count\":0"), std::string::npos);
    EXPECT_EQ(app.Call("GET", "/v1/alerts?state=closed", duty).status, 400);
    EXPECT_EQ(app.Call("GET", "/v1/alerts", monitor).status, 403);
    EXPECT_EQ(app.Call("GET", "/v1/alerts", "").status, 401);
    EXPECT_EQ(app.Call("GET", "/v1/alerts/" + id, epe_token).status, 403);
    EXPECT_EQ(app.Call("GET", "/v1/alerts/Anope", duty).status, 404);
    r = app.Call("GET", "/v1/alerts/" + id, ward_token);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"state\":\"open\""), std::string::npos) << r.body;
    // One style with /v1/risk and the webhooks: lower-case levels, plain decimal numbers
    // (Boost.JSON alone prints 0.8 as 8E-1), errors with a reason.
    EXPECT_NE(r.body.find("\"level\":\"high\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"contribution\":0.8,"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("E-"), std::string::npos) << r.body;
    EXPECT_NE(app.Call("GET", "/v1/alerts/Anope", duty).body.find("\"reason\":\"not_found\""), std::string::npos);
    // As CAP: the state's message type (an open alert is an Alert), not the last event's kind.
    r = app.Call("GET", "/v1/alerts/" + id + ".cap", ward_token);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("<msgType>Alert</msgType>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<identifier>ewarn-" + id + "-raised</identifier>"), std::string::npos) << r.body;

    // Acknowledging: not from another area; once from its own; a second time is a conflict.
    EXPECT_EQ(app.Call("POST", "/v1/alerts/" + id + "/ack", epe_token, R"({"note":"not mine"})").status, 403);
    EXPECT_EQ(app.Call("POST", "/v1/alerts/" + id + "/ack", monitor, "{}").status, 403);
    EXPECT_EQ(app.Call("POST", "/v1/alerts/" + id + "/ack", ward_token, "{note").status, 400);
    EXPECT_EQ(app.Call("POST", "/v1/alerts/Anope/ack", ward_token, "{}").status, 404);
    r = app.Call("POST", "/v1/alerts/" + id + "/ack", ward_token, R"({"note":"patrol on its way"})");
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_NE(r.body.find("\"status\":\"accepted\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"alert_id\":\"" + id + "\""), std::string::npos) << r.body;
    r = app.Call("POST", "/v1/alerts/" + id + "/ack", ward_token, R"({"note":"again"})");
    EXPECT_EQ(r.status, 409) << r.body;

    // The ack is in in.events, in the alert's district partition; the station stage forwards it.
    int32_t partition = PartitionForKey("LAGOS/IKEJA", kPartitions);
    auto in = app.log->Read({"in.events", partition}, 0, 100);
    ASSERT_TRUE(in.ok());
    ASSERT_EQ(in->size(), 1u);
    v1::Event ack = *schemas::DecodeEvent((*in)[0].value);
    ASSERT_TRUE(ack.has_ack());
    EXPECT_EQ(ack.ack().alert_id(), id);
    EXPECT_EQ(ack.ack().liaison_id(), "ward-police");
    EXPECT_EQ(ack.ack().area(), kWard);
    EXPECT_EQ(ack.header().principal(), "ward-police");
    app.ToRisk(ack, kWard);
    app.RunAlertStage();

    r = app.Call("GET", "/v1/alerts?state=acknowledged", duty);
    EXPECT_NE(r.body.find("\"count\":1"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"acked_by\":\"ward-police\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"ack_note\":\"patrol on its way\""), std::string::npos) << r.body;
    EXPECT_NE(app.Call("GET", "/v1/alerts/" + id + ".cap", duty).body.find("<msgType>Update</msgType>"),
              std::string::npos);
    r = app.Call("POST", "/v1/alerts/" + id + "/ack", duty, "");
    EXPECT_EQ(r.status, 409);
    EXPECT_NE(r.body.find("already acknowledged (by ward-police)"), std::string::npos) << r.body;
  }

  CliRun history = Ewarn("alerts history --data " + data + " " + id);
  ASSERT_EQ(history.code, 0) << history.out;
  for (const char* want : {"raised", "routed", "recipients=ward-police", "acknowledged", "actor=ward-police",
                           "note=\"patrol on its way\"", "ST-1", "2027-01-15T08:00:01"}) {
    EXPECT_NE(history.out.find(want), std::string::npos) << want << " in\n" << history.out;
  }
  EXPECT_LT(history.out.find("raised"), history.out.find("acknowledged"));
  CliRun unknown = Ewarn("alerts history --data " + data + " Anope");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.out.find("unknown alert 'Anope'"), std::string::npos) << unknown.out;

  CliRun listed = Ewarn("alerts list --data " + data + " --state acknowledged");
  ASSERT_EQ(listed.code, 0) << listed.out;
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("ward-police"), std::string::npos) << listed.out;
  EXPECT_NE(Ewarn("alerts list --data " + data + " --state open").out.find("0 alerts"), std::string::npos);
}

// Issue 13.4 for silences: an area is a region, district or ward of the station list in one
// canonical form, inside the caller's area; a path with "..", an unknown area or another
// area's is refused naming the field, and what is stored is the canonical form.
TEST(AlertsAppTest, SilenceAreasMustBeCanonicalKnownAndInsideTheCallersArea) {
  ewarn::testing::TempDir dir;
  AlertsApp app(dir.Sub("data"));
  {
    std::ofstream csv(dir.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
        << "S1,One,LAGOS,IKEJA,W1,6.6,3.35,1000\n"
        << "S2,Two,KANO,NASSARAWA,W2,12.0,8.5,1000\n";
  }
  ASSERT_TRUE(ingest::ImportStations(*app.log, app.ingestor->stations(), dir.Sub("stations.csv"),
                                     ingest::StationFormat::kGeneric, 1000)
                  .ok());
  std::string duty = *app.ingestor->principals().CreateToken("duty-room", ingest::Role::kDuty, "", 0);
  std::string ikeja = *app.ingestor->principals().CreateToken("ikeja-police", ingest::Role::kLiaison, "LAGOS/IKEJA", 0);
  auto silence = [&](const std::string& token, const std::string& area) {
    return app.Call("POST", "/v1/silences", token,
                    R"({"area":")" + area + R"(","until":"2030-01-01T00:00:00Z","note":"kits replaced"})");
  };

  for (const char* bad : {"LAGOS/IKEJA/../../KANO", "LAGOS/IKEJA/./W1", "LAGOS//IKEJA", "LAGOS/IKEJA/W1/X"}) {
    for (const std::string* token : {&duty, &ikeja}) {
      ingest::HttpResponse r = silence(*token, bad);
      EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
      EXPECT_NE(r.body.find("\"field\":\"area\""), std::string::npos) << r.body;
      EXPECT_NE(r.body.find("\"reason\":\"bad_area\""), std::string::npos) << r.body;
    }
  }
  ingest::HttpResponse r = silence(duty, "LAGOS/EPE");  // canonical, but no station lies there
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("\"reason\":\"unknown_area\""), std::string::npos) << r.body;
  r = silence(ikeja, "KANO/NASSARAWA");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("\"field\":\"area\""), std::string::npos) << r.body;
  EXPECT_EQ(silence(ikeja, "LAGOS").status, 403);  // the region is wider than the liaison's district
  EXPECT_EQ(silence(ikeja, "").status, 403);       // everywhere: duty and operators only
  EXPECT_EQ(app.log->Offsets({"in.events", PartitionForKey("LAGOS/IKEJA", kPartitions)})->end, 0);

  // Accepted in any spelling, stored canonical.
  r = silence(ikeja, " lagos / ikeja /w1/");
  ASSERT_EQ(r.status, 202) << r.body;
  auto in = app.log->Read({"in.events", PartitionForKey("LAGOS/IKEJA", kPartitions)}, 0, 10);
  ASSERT_TRUE(in.ok());
  ASSERT_EQ(in->size(), 1u);
  v1::Event stored = *schemas::DecodeEvent((*in)[0].value);
  ASSERT_TRUE(stored.has_silence());
  EXPECT_EQ(stored.silence().area(), "LAGOS/IKEJA/W1");
  EXPECT_EQ((*in)[0].key, "LAGOS/IKEJA/W1");
  EXPECT_EQ(silence(duty, "").status, 202);
  EXPECT_EQ(silence(duty, "kano").status, 202);
}

}  // namespace
}  // namespace ewarn
