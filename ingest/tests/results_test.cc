// Result sheets at ingest: decoding and arithmetic (pure), the contest importer, POST
// /v1/results and the SMS form end to end on a real embedded log and RocksDB.
#include <gtest/gtest.h>

#include <fstream>

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/ingest/results.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"
#include "raw_client.h"

namespace ewarn::ingest {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";
constexpr char kPhone[] = "+234 801 234 5678";

std::string Sheet(const std::string& id, const std::string& rest) {
  return R"({"event_id":")" + id + R"(","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","contest":"PRES-2027")" +
         (rest.empty() ? "" : "," + rest) + "}";
}

InputError DecodeError(const std::string& body) {
  DecodedInput d = DecodeJsonInput(InputKind::kResult, body);
  EXPECT_TRUE(d.error.has_value()) << body;
  return d.error.value_or(InputError{});
}

TEST(ResultSheetJson, AFullSheetDecodesWithSortedVotesAndItsCounts) {
  DecodedInput d = DecodeJsonInput(
      InputKind::kResult,
      Sheet("r1", R"("sheet_id":"EC8A-0042","votes":{"pdp":85,"APC":120},"registered":500,"accredited":230,)"
                  R"("ballots_issued":240,"rejected":4,"blank":1,"submitter_role":"presiding_officer",)"
                  R"("document":{"url":"https://portal.example/s1.pdf","sha256":")" + std::string(64, 'A') +
                  R"(","size":52311})"));
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_EQ(d.events.size(), 1u);
  const v1::ResultSheet& s = d.events[0].result_sheet();
  EXPECT_EQ(d.events[0].header().event_id(), "r1");
  EXPECT_EQ(s.contest(), "PRES-2027");
  ASSERT_EQ(s.votes_size(), 2);
  EXPECT_EQ(s.votes(0).candidate(), "APC");  // codes upper-cased and sorted
  EXPECT_EQ(s.votes(1).candidate(), "PDP");
  EXPECT_EQ(s.votes(1).votes(), 85);
  EXPECT_EQ(s.accredited(), 230);
  EXPECT_EQ(s.rejected(), 4);
  EXPECT_EQ(s.submitter_role(), v1::SUBMITTER_ROLE_PRESIDING_OFFICER);
  EXPECT_EQ(s.document().sha256(), std::string(64, 'a'));
  EXPECT_EQ(s.document().size(), 52311);
}

TEST(ResultSheetJson, ADocumentOnlyUploadHasNoVotesAndAbsentCountsStayAbsent) {
  DecodedInput d = DecodeJsonInput(
      InputKind::kResult, Sheet("r2", R"("document":{"url":"https://portal.example/s1.jpg","sha256":")" +
                                          std::string(64, '0') + R"(","size":10})"));
  ASSERT_FALSE(d.error) << d.error->message;
  const v1::ResultSheet& s = d.events[0].result_sheet();
  EXPECT_TRUE(s.votes().empty());
  EXPECT_FALSE(s.has_registered());
  EXPECT_FALSE(s.has_ballots_issued());
  EXPECT_EQ(s.submitter_role(), v1::SUBMITTER_ROLE_OBSERVER);  // the default
}

TEST(ResultSheetJson, MalformedSheetsNameTheirField) {
  struct Case {
    std::string body, field, code;
  };
  std::vector<Case> cases = {
      {R"({"event_id":"x","occurred_at":"2023-11-14T21:00:00Z","contest":"P","votes":{"A":1}})", "station_id",
       "missing_field"},
      {R"({"event_id":"x","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","votes":{"A":1}})", "contest",
       "missing_field"},
      {Sheet("x", ""), "votes", "missing_field"},  // neither votes nor document
      {Sheet("x", R"("votes":{})"), "votes", "missing_field"},
      {Sheet("x", R"("votes":[1,2])"), "votes", "bad_type"},
      {Sheet("x", R"("votes":{"APC":-3})"), "votes.APC", "out_of_range"},
      {Sheet("x", R"("votes":{"APC":2.5})"), "votes.APC", "bad_type"},
      {Sheet("x", R"("votes":{"APC":1,"apc":2})"), "votes.apc", "duplicate_key"},
      {Sheet("x", R"("votes":{"APC":1},"registered":"many")"), "registered", "bad_type"},
      {Sheet("x", R"("votes":{"APC":1},"submitter_role":"judge")"), "submitter_role", "bad_value"},
      {Sheet("x", R"("document":{"url":"ftp://x","sha256":"00","size":1})"), "document.url", "bad_value"},
      {Sheet("x", R"("document":{"url":"https://x","sha256":"00","size":1})"), "document.sha256", "bad_value"},
      {Sheet("x", R"("document":{"url":"https://x","sha256":")" + std::string(64, 'f') + R"("})"), "document.size",
       "missing_field"},
      {Sheet("x", R"("document":"https://x")"), "document", "bad_type"},
  };
  for (const auto& c : cases) {
    InputError e = DecodeError(c.body);
    EXPECT_EQ(e.field, c.field) << c.body << " -> " << e.message;
    EXPECT_EQ(e.reason_code, c.code) << c.body << " -> " << e.message;
  }
}

TEST(ResultSheetJson, VotesAboveBallotsIssuedOrRegisteredAreRefusedNamingTheField) {
  InputError over_ballots = DecodeError(Sheet("x", R"("votes":{"A":200,"B":50},"ballots_issued":240)"));
  EXPECT_EQ(over_ballots.field, "votes");
  EXPECT_EQ(over_ballots.message, "votes (250) exceeds ballots_issued (240)");
  InputError over_registered = DecodeError(Sheet("x", R"("votes":{"A":501},"registered":500)"));
  EXPECT_EQ(over_registered.field, "votes");
  EXPECT_NE(over_registered.message.find("registered (500)"), std::string::npos);
  EXPECT_EQ(DecodeError(Sheet("x", R"("votes":{"A":1},"registered":500,"ballots_issued":501)")).field,
            "ballots_issued");
  EXPECT_EQ(DecodeError(Sheet("x", R"("votes":{"A":1},"registered":500,"accredited":900)")).field, "accredited");
  // More votes than accredited voters is possible on paper: kept, a finding downstream.
  DecodedInput over_accredited = DecodeJsonInput(InputKind::kResult, Sheet("x", R"("votes":{"A":300},"accredited":200)"));
  EXPECT_FALSE(over_accredited.error);
}

TEST(ResultSms, TheObserverFormInThreeLanguages) {
  auto en = std::get<SmsCommand>(ParseSms("r s1  apc 120, pdp 85 ACC 230 rej 4"));
  EXPECT_EQ(en.kind, SmsCommand::Kind::kResult);
  EXPECT_EQ(en.station_id, "S1");
  EXPECT_EQ(en.contest, "");
  ASSERT_EQ(en.votes.size(), 2u);
  EXPECT_EQ(en.votes[0], (std::pair<std::string, int64_t>{"APC", 120}));
  EXPECT_EQ(*en.accredited, 230);
  EXPECT_EQ(*en.rejected, 4);
  auto fr = std::get<SmsCommand>(ParseSms("RESULTAT S1 APC 10 PDP 5 NUL 2"));
  EXPECT_EQ(fr.language, SmsLanguage::kFrench);
  EXPECT_EQ(*fr.rejected, 2);
  EXPECT_FALSE(fr.accredited);
  auto ru = std::get<SmsCommand>(ParseSms("Р S1 APC 10 АКК 30 НЕД 1"));
  EXPECT_EQ(ru.language, SmsLanguage::kRussian);
  EXPECT_EQ(*ru.accredited, 30);
  auto named = std::get<SmsCommand>(ParseSms("R S1 pres-2027 APC 10"));
  EXPECT_EQ(named.contest, "PRES-2027");
  EXPECT_EQ(named.votes.size(), 1u);
}

TEST(ResultSms, MalformedResultsGetTheExampleInTheSendersLanguage) {
  for (std::string bad : {"R S1", "R S1 APC", "R S1 APC ten", "R S1 APC 1 APC 2", "R S1 APC 1 ACC 2 PDP 3",
                          "R S1 APC 1 ACC 2 ACC 3", "R S1 ACC 5"}) {
    auto parsed = ParseSms(bad);
    ASSERT_TRUE(std::holds_alternative<SmsError>(parsed)) << bad;
    EXPECT_EQ(std::get<SmsError>(parsed).reason_code, "sms_bad_result") << bad;
    EXPECT_NE(std::get<SmsError>(parsed).reply.find("R 01/01/01/005 APC 120"), std::string::npos);
  }
  auto ru = std::get<SmsError>(ParseSms("РЕЗУЛЬТАТ S1 APC"));
  EXPECT_NE(ru.reply.find("Пример"), std::string::npos);
}

class ResultsIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = store::OpenEmbeddedLog({.dir = dir_.Sub("log")});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    Write("stations.csv",
          "station_id,name,region,district,ward,lat,lon,registered_voters\n"
          "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n"
          "S3,Kano Central,KANO,NASSARAWA,GIGINYU,12.0,8.5,1200\n");
    Write("contests.csv",
          "contest,candidate,name,party\n"
          "PRES-2027,APC,Candidate A,All Progressives Congress\n"
          "PRES-2027,PDP,Candidate B,Peoples Democratic Party\n"
          "pres-2027,lp,Candidate C,Labour Party\n"
          "GOV-LA-2027,APC,Candidate D,All Progressives Congress\n"
          "GOV-LA-2027,LP,Candidate E,Labour Party\n");
    auto state = store::StateStore::Open({.dir = dir_.Sub("ingest"), .stores = Ingestor::StoreNames()});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
    auto ingestor = Ingestor::Make(*log_, *state_, clock_, {.pseudonym_secret = kSecret}, 4);
    ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
    ingestor_ = std::move(ingestor).value();
    ASSERT_TRUE(ImportStations(*log_, ingestor_->stations(), dir_.Sub("stations.csv"), StationFormat::kGeneric, kNow).ok());
    ASSERT_TRUE(ingestor_->RefreshStations().ok());
    auto imported = ImportContests(*log_, ingestor_->contests(), dir_.Sub("contests.csv"), kNow);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    EXPECT_EQ(imported->imported, 5);
    auto token = ingestor_->principals().CreateToken("observer-1", Role::kMonitor, "", kNow);
    ASSERT_TRUE(token.ok());
    auth_ = "Authorization: Bearer " + *token;
    auto gateway = ingestor_->principals().CreateToken("kannel", Role::kGateway, "", kNow);
    ASSERT_TRUE(gateway.ok());
    gateway_token_ = *gateway;
    v1::Monitor m;
    m.set_monitor_id("sms-observer");
    m.set_phone_pseudonym(MonitorRegistry::PhonePseudonym(kSecret, kPhone));
    ASSERT_TRUE(ingestor_->monitors().Register(m).ok());
    HttpRouter router;
    AddIngestRoutes(router, *ingestor_, 1 << 16);
    auto server = HttpServer::Start({.max_body_bytes = 1 << 16}, std::move(router));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_.Sub(name)) << text; }

  RawResponse Post(const std::string& body) {
    return Request(server_->port(), "POST", "/v1/results", {"Content-Type: application/json", auth_}, body);
  }

  std::string Sms(const std::string& text_query) {
    return Request(server_->port(), "GET",
                   "/v1/sms/kannel?from=%2B2348012345678&text=" + text_query + "&token=" + gateway_token_)
        .body;
  }

  std::vector<v1::Event> Topic(std::string_view topic) {
    std::vector<v1::Event> out;
    int32_t n = *log_->PartitionCount(topic);
    for (int32_t p = 0; p < n; ++p) {
      auto got = log_->Read({std::string(topic), p}, 0, 100000);
      EXPECT_TRUE(got.ok());
      if (!got.ok()) continue;
      for (const auto& r : *got) {
        auto e = schemas::DecodeEvent(r.value);
        EXPECT_TRUE(e.ok());
        if (e.ok() && !e->has_tick()) out.push_back(*e);
      }
    }
    return out;
  }

  ewarn::testing::TempDir dir_;
  ManualClock clock_{kNow};
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<HttpServer> server_;
  std::string auth_, gateway_token_;
};

TEST_F(ResultsIngestTest, ContestsAreImportedWithCodesNormalizedAndBadRowsNamed) {
  EXPECT_EQ(ingestor_->contests().Contests(), (std::vector<std::string>{"GOV-LA-2027", "PRES-2027"}));
  auto pres = ingestor_->contests().Candidates("PRES-2027");
  ASSERT_EQ(pres.size(), 3u);
  EXPECT_EQ(pres[1].candidate(), "LP");  // "lp" in the file
  EXPECT_EQ(pres[1].party(), "Labour Party");
  Write("bad.csv", "contest,candidate\nPRES-2027,\n,APC\nPRES-2027,YPP\nPRES-2027,YPP\n");
  auto summary = ImportContests(*log_, ingestor_->contests(), dir_.Sub("bad.csv"), kNow);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->imported, 1);
  EXPECT_EQ(summary->rejected, 3);
  EXPECT_EQ(summary->problems[0], "line 2: missing candidate");
  EXPECT_EQ(summary->problems[2], "line 5: duplicate candidate PRES-2027/YPP (the first one is kept)");
  Write("noheader.csv", "race,who\nA,B\n");
  auto missing = ImportContests(*log_, ingestor_->contests(), dir_.Sub("noheader.csv"), kNow);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("contest candidate"), std::string::npos) << missing.status().ToString();
  EXPECT_EQ(ImportContests(*log_, ingestor_->contests(), dir_.Sub("absent.csv"), kNow).status().code(),
            StatusCode::kIOError);
}

TEST_F(ResultsIngestTest, AcceptedSheetsAreDurableAndACorrectionIsANewEvent) {
  RawResponse first = Post(Sheet("r1", R"("votes":{"APC":120,"PDP":85},"ballots_issued":240)"));
  ASSERT_EQ(first.status, 202) << first.body;
  RawResponse corrected = Post(Sheet("r1-amended", R"("votes":{"APC":121,"PDP":85},"ballots_issued":240)"));
  ASSERT_EQ(corrected.status, 202) << corrected.body;
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 2u);  // both kept: the first is superseded on read, never overwritten
  EXPECT_EQ(inputs[0].result_sheet().votes(0).votes(), 120);
  EXPECT_EQ(inputs[1].result_sheet().votes(0).votes(), 121);
  EXPECT_EQ(inputs[0].header().principal(), "observer-1");
  // A retry is idempotent.
  EXPECT_EQ(Post(Sheet("r1", R"("votes":{"APC":120,"PDP":85},"ballots_issued":240)")).status, 202);
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 2u);
}

TEST_F(ResultsIngestTest, ADocumentOnlyUploadIsAccepted) {
  RawResponse r = Post(Sheet("doc-1", R"("submitter_role":"presiding_officer","document":{"url":"https://portal.example/EC8A.pdf","sha256":")" +
                                          std::string(64, 'b') + R"(","size":48213})"));
  ASSERT_EQ(r.status, 202) << r.body;
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_TRUE(inputs[0].result_sheet().votes().empty());
  EXPECT_EQ(inputs[0].result_sheet().document().size(), 48213);
}

TEST_F(ResultsIngestTest, RefusalsNameTheFieldAndAreKeptAsDeadLetters) {
  RawResponse contest = Post(R"({"event_id":"x1","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","contest":"SEN-2027","votes":{"APC":1}})");
  EXPECT_EQ(contest.status, 400);
  EXPECT_NE(contest.body.find("unknown contest 'SEN-2027'; known: GOV-LA-2027, PRES-2027"), std::string::npos)
      << contest.body;
  EXPECT_NE(contest.body.find("\"field\":\"contest\""), std::string::npos);
  RawResponse candidate = Post(Sheet("x2", R"("votes":{"APC":1,"NNPP":4})"));
  EXPECT_EQ(candidate.status, 400);
  EXPECT_NE(candidate.body.find("unknown candidate 'NNPP' in contest PRES-2027; its candidates: APC, LP, PDP"),
            std::string::npos)
      << candidate.body;
  EXPECT_NE(candidate.body.find("\"field\":\"votes.NNPP\""), std::string::npos);
  RawResponse over = Post(Sheet("x3", R"("votes":{"APC":300},"ballots_issued":240)"));
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(over.body.find("\"field\":\"votes\""), std::string::npos) << over.body;
  RawResponse station = Post(R"({"event_id":"x4","occurred_at":"2023-11-14T21:00:00Z","station_id":"NOPE","contest":"PRES-2027","votes":{"APC":1}})");
  EXPECT_EQ(station.status, 400);
  EXPECT_NE(station.body.find("\"field\":\"station_id\""), std::string::npos);

  auto dead = Topic(schemas::topic::kRejected);
  ASSERT_EQ(dead.size(), 4u);
  EXPECT_EQ(dead[0].rejected().reason_code(), "unknown_contest");
  EXPECT_EQ(dead[1].rejected().reason_code(), "unknown_candidate");
  EXPECT_EQ(dead[1].rejected().field(), "votes.NNPP");
  EXPECT_EQ(dead[2].rejected().reason_code(), "out_of_range");
  EXPECT_EQ(dead[0].rejected().endpoint(), "POST /v1/results");
  EXPECT_TRUE(Topic(schemas::topic::kInputs).empty());
}

TEST_F(ResultsIngestTest, AContestImportedWhileServingIsFoundWithoutARestart) {
  Write("senate.csv", "contest,candidate,name,party\nSEN-2027,APC,,\n");
  ASSERT_EQ(Post(R"({"event_id":"s0","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","contest":"SEN-2027","votes":{"APC":1}})").status, 400);
  // Another process (the CLI) appends to ref.contests; the server's directory has not seen it.
  auto other = ContestDirectory::Make(*log_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(ImportContests(*log_, **other, dir_.Sub("senate.csv"), kNow).ok());
  RawResponse r = Post(R"({"event_id":"s1","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","contest":"SEN-2027","votes":{"APC":1}})");
  EXPECT_EQ(r.status, 202) << r.body;
}

TEST_F(ResultsIngestTest, AnObserversSmsBecomesASheetOfTheContestItsCandidatesStandIn) {
  std::string reply = Sms("R+S1+APC+120+PDP+85+ACC+230+REJ+4");
  EXPECT_NE(reply.find("received"), std::string::npos) << reply;
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 1u);
  const v1::ResultSheet& s = inputs[0].result_sheet();
  EXPECT_EQ(s.contest(), "PRES-2027");  // only PRES-2027 has PDP
  EXPECT_EQ(s.submitter_role(), v1::SUBMITTER_ROLE_OBSERVER);
  EXPECT_EQ(s.accredited(), 230);
  EXPECT_EQ(s.rejected(), 4);
  EXPECT_EQ(inputs[0].header().source(), v1::SOURCE_SMS);
  // APC and LP stand in two contests: the sender is asked to name one, and then it counts.
  std::string ambiguous = Sms("R+S1+APC+10+LP+20");
  EXPECT_NE(ambiguous.find("name the contest"), std::string::npos) << ambiguous;
  EXPECT_NE(Sms("R+S1+GOV-LA-2027+APC+10+LP+20").find("received"), std::string::npos);
  std::string unknown = Sms("R+S1+PRES-2027+XYZ+10");
  EXPECT_NE(unknown.find("unknown candidate 'XYZ'"), std::string::npos) << unknown;
  auto dead = Topic(schemas::topic::kRejected);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].rejected().reason_code(), "ambiguous_contest");
  EXPECT_EQ(dead[1].rejected().reason_code(), "unknown_candidate");
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 2u);
}

}  // namespace
}  // namespace ewarn::ingest
