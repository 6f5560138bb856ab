// The SMS syntax for monitors without data (README "SMS syntax"). Pure functions, no I/O,
// never throw, safe on any bytes (fuzzed).
//
//   INC <station> <category> <severity 1-5> [text] [@place]   FR INC/INCIDENT   RU ИНЦ/ИНЦИДЕНТ
//   T <station> <voters cast>                          FR P/PARTICIPATION RU Я/ЯВКА
//   HELP                                               FR AIDE            RU ПОМОЩЬ   (also ?)
//   R <station> [contest] <c1> <n1> <c2> <n2> ... [ACC n] [REJ n]   an observer's result sheet
//                                       FR R/RESULTAT, NUL for REJ   RU Р/РЕЗУЛЬТАТ, АКК, НЕД
//     (candidate codes as in ref.contests; without a contest, the one contest whose candidates
//     include all those named; ACC accredited voters, REJ rejected ballots)
//
// Forgiving: any case, runs of spaces/newlines, and , ; # * as separators. Categories by
// English wire name, number 1-8, or a word in the message's language. In an incident, text
// after the first '@' names a place (any language), e.g. "INC LA/01/05/012 violence 4 shots
// fired @Ikeja Grammar School": it is geocoded when the report has no GPS. A place longer
// than kMaxPlaceBytes is cut at a character boundary, not refused.
#pragma once

#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ewarn/v1/event.pb.h"

namespace ewarn::ingest {

enum class SmsLanguage { kEnglish, kFrench, kRussian };

struct SmsCommand {
  enum class Kind { kIncident, kTurnout, kHelp, kResult };
  Kind kind = Kind::kHelp;
  SmsLanguage language = SmsLanguage::kEnglish;
  std::string station_id;  // upper-cased
  v1::IncidentCategory category = v1::INCIDENT_CATEGORY_UNSPECIFIED;
  int severity = 0;
  std::string text;
  std::string place;  // after '@' in an incident; "" when none
  int64_t voters_cast = 0;
  // A result (R): the contest if named (upper-cased), votes per candidate code in message
  // order, and the optional ACC and REJ counts.
  std::string contest;
  std::vector<std::pair<std::string, int64_t>> votes;
  std::optional<int64_t> accredited, rejected;
};

struct SmsError {
  SmsLanguage language = SmsLanguage::kEnglish;
  std::string reason_code;  // sms_unknown_command, sms_missing_station, sms_bad_category,
                            // sms_bad_severity, sms_bad_number, sms_too_long, bad_encoding,
                            // sms_bad_result
  std::string reply;        // what was wrong and how to fix it, in that language
};

inline constexpr size_t kMaxSmsBytes = 1000;

std::variant<SmsCommand, SmsError> ParseSms(std::string_view text);

// "ewarn: received, ref K7F2Q9. Thank you." in the language.
std::string SmsAcceptedReply(SmsLanguage language, std::string_view reference);
// The syntax in one message.
std::string SmsHelpReply(SmsLanguage language);

}  // namespace ewarn::ingest
