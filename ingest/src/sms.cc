// SMS parsing: tokenize forgivingly, fold case (ASCII and Cyrillic by hand: no ICU needed for
// the keywords we match), then match keywords in three languages.
#include "ewarn/ingest/sms.h"

#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include "ewarn/ingest/json_input.h"

namespace ewarn::ingest {
namespace {

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    if (n == 2 && c < 0xc2) return false;  // overlong
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Lower-cases ASCII and Cyrillic А-Я, Ё (UTF-8); leaves everything else alone.
std::string Fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if ((c == 0xd0) && i + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x90 && d <= 0x9f) {  // А..П -> а..п (D0 B0..BF)
        out.push_back(static_cast<char>(0xd0));
        out.push_back(static_cast<char>(d + 0x20));
      } else if (d >= 0xa0 && d <= 0xaf) {  // Р..Я -> р..я (D1 80..8F)
        out.push_back(static_cast<char>(0xd1));
        out.push_back(static_cast<char>(d - 0x20));
      } else if (d == 0x81) {  // Ё -> ё (D1 91)
        out.push_back(static_cast<char>(0xd1));
        out.push_back(static_cast<char>(0x91));
      } else {
        out.push_back(static_cast<char>(c));
        out.push_back(static_cast<char>(d));
      }
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool IsSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';' || c == '#' || c == '*';
}

// Splits off the first `count` words; the remainder (original spacing collapsed) is text.
std::vector<std::string_view> Words(std::string_view s, size_t count, std::string_view* rest) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (words.size() < count) {
    while (i < s.size() && IsSeparator(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && !IsSeparator(s[i])) ++i;
    words.push_back(s.substr(start, i - start));
  }
  while (i < s.size() && IsSeparator(s[i])) ++i;
  *rest = s.substr(std::min(i, s.size()));
  return words;
}

std::string CollapseSpaces(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
    } else {
      if (space) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
  }
  return out;
}

struct Keyword {
  std::string_view word;
  SmsCommand::Kind kind;
  SmsLanguage language;
};

constexpr std::array kKeywords = {
    Keyword{"inc", SmsCommand::Kind::kIncident, SmsLanguage::kEnglish},
    Keyword{"incident", SmsCommand::Kind::kIncident, SmsLanguage::kEnglish},
    Keyword{"t", SmsCommand::Kind::kTurnout, SmsLanguage::kEnglish},
    Keyword{"turnout", SmsCommand::Kind::kTurnout, SmsLanguage::kEnglish},
    Keyword{"help", SmsCommand::Kind::kHelp, SmsLanguage::kEnglish},
    Keyword{"?", SmsCommand::Kind::kHelp, SmsLanguage::kEnglish},
    Keyword{"p", SmsCommand::Kind::kTurnout, SmsLanguage::kFrench},
    Keyword{"participation", SmsCommand::Kind::kTurnout, SmsLanguage::kFrench},
    Keyword{"aide", SmsCommand::Kind::kHelp, SmsLanguage::kFrench},
    Keyword{"инц", SmsCommand::Kind::kIncident, SmsLanguage::kRussian},
    Keyword{"инцидент", SmsCommand::Kind::kIncident, SmsLanguage::kRussian},
    Keyword{"я", SmsCommand::Kind::kTurnout, SmsLanguage::kRussian},
    Keyword{"явка", SmsCommand::Kind::kTurnout, SmsLanguage::kRussian},
    Keyword{"помощь", SmsCommand::Kind::kHelp, SmsLanguage::kRussian},
    Keyword{"r", SmsCommand::Kind::kResult, SmsLanguage::kEnglish},
    Keyword{"result", SmsCommand::Kind::kResult, SmsLanguage::kEnglish},
    Keyword{"resultat", SmsCommand::Kind::kResult, SmsLanguage::kFrench},
    Keyword{"р", SmsCommand::Kind::kResult, SmsLanguage::kRussian},
    Keyword{"результат", SmsCommand::Kind::kResult, SmsLanguage::kRussian},
};

struct CategoryWord {
  std::string_view word;
  v1::IncidentCategory category;
  SmsLanguage language = SmsLanguage::kEnglish;
};

// English wire names are accepted in every language; then French and Russian words.
constexpr std::array kCategoryWords = {
    CategoryWord{"violence", v1::INCIDENT_CATEGORY_VIOLENCE},
    CategoryWord{"intimidation", v1::INCIDENT_CATEGORY_INTIMIDATION},
    CategoryWord{"vote_buying", v1::INCIDENT_CATEGORY_VOTE_BUYING},
    CategoryWord{"votebuying", v1::INCIDENT_CATEGORY_VOTE_BUYING},
    CategoryWord{"ballot_tampering", v1::INCIDENT_CATEGORY_BALLOT_TAMPERING},
    CategoryWord{"tampering", v1::INCIDENT_CATEGORY_BALLOT_TAMPERING},
    CategoryWord{"materials", v1::INCIDENT_CATEGORY_MATERIALS},
    CategoryWord{"procedure", v1::INCIDENT_CATEGORY_PROCEDURE},
    CategoryWord{"access", v1::INCIDENT_CATEGORY_ACCESS},
    CategoryWord{"other", v1::INCIDENT_CATEGORY_OTHER},
    CategoryWord{"achat", v1::INCIDENT_CATEGORY_VOTE_BUYING, SmsLanguage::kFrench},
    CategoryWord{"fraude", v1::INCIDENT_CATEGORY_BALLOT_TAMPERING, SmsLanguage::kFrench},
    CategoryWord{"urne", v1::INCIDENT_CATEGORY_BALLOT_TAMPERING, SmsLanguage::kFrench},
    CategoryWord{"materiel", v1::INCIDENT_CATEGORY_MATERIALS, SmsLanguage::kFrench},
    CategoryWord{"matériel", v1::INCIDENT_CATEGORY_MATERIALS, SmsLanguage::kFrench},
    CategoryWord{"procédure", v1::INCIDENT_CATEGORY_PROCEDURE, SmsLanguage::kFrench},
    CategoryWord{"acces", v1::INCIDENT_CATEGORY_ACCESS, SmsLanguage::kFrench},
    CategoryWord{"accès", v1::INCIDENT_CATEGORY_ACCESS, SmsLanguage::kFrench},
    CategoryWord{"autre", v1::INCIDENT_CATEGORY_OTHER, SmsLanguage::kFrench},
    CategoryWord{"насилие", v1::INCIDENT_CATEGORY_VIOLENCE, SmsLanguage::kRussian},
    CategoryWord{"запугивание", v1::INCIDENT_CATEGORY_INTIMIDATION, SmsLanguage::kRussian},
    CategoryWord{"подкуп", v1::INCIDENT_CATEGORY_VOTE_BUYING, SmsLanguage::kRussian},
    CategoryWord{"вброс", v1::INCIDENT_CATEGORY_BALLOT_TAMPERING, SmsLanguage::kRussian},
    CategoryWord{"материалы", v1::INCIDENT_CATEGORY_MATERIALS, SmsLanguage::kRussian},
    CategoryWord{"процедура", v1::INCIDENT_CATEGORY_PROCEDURE, SmsLanguage::kRussian},
    CategoryWord{"доступ", v1::INCIDENT_CATEGORY_ACCESS, SmsLanguage::kRussian},
    CategoryWord{"другое", v1::INCIDENT_CATEGORY_OTHER, SmsLanguage::kRussian},
};

// Per language: help, syntax error, station missing, bad category, bad severity, bad number,
// too long, accepted prefix, accepted suffix.
struct Texts {
  std::string_view help, unknown, station, category, severity, number, too_long, encoding, ok_prefix, ok_suffix;
};

constexpr Texts kEnglish{
    "ewarn: INC <station> <category 1-8> <severity 1-5> <text> [@place] | T <station> <votes cast>. "
    "Categories: 1 violence 2 intimidation 3 vote_buying 4 ballot_tampering 5 materials 6 procedure 7 access 8 other",
    "ewarn: not understood. Start with INC, T or HELP, e.g. INC 01/01/01/005 violence 4 crowd at gate",
    "ewarn: the station number is missing. Example: T 01/01/01/005 350",
    "ewarn: unknown category. Use 1-8 or: violence intimidation vote_buying ballot_tampering materials procedure access other",
    "ewarn: severity must be a number from 1 (minor) to 5 (life-threatening), after the category",
    "ewarn: votes cast must be a whole number. Example: T 01/01/01/005 350",
    "ewarn: message too long; send at most 1000 characters",
    "ewarn: the message could not be read (bad characters); please send it again",
    "ewarn: received, ref ",
    ". Thank you."};

constexpr Texts kFrench{
    "ewarn: INC <bureau> <catégorie 1-8> <gravité 1-5> <texte> [@lieu] | P <bureau> <votants>. "
    "Catégories: 1 violence 2 intimidation 3 achat 4 fraude 5 materiel 6 procedure 7 acces 8 autre",
    "ewarn: message non compris. Commencez par INC, P ou AIDE, ex. INC 01/01/01/005 violence 4 foule",
    "ewarn: numéro de bureau manquant. Exemple: P 01/01/01/005 350",
    "ewarn: catégorie inconnue. 1-8 ou: violence intimidation achat fraude materiel procedure acces autre",
    "ewarn: la gravité est un chiffre de 1 (mineur) à 5 (danger de mort), après la catégorie",
    "ewarn: le nombre de votants doit être un entier. Exemple: P 01/01/01/005 350",
    "ewarn: message trop long (1000 caractères au plus)",
    "ewarn: message illisible (caractères invalides); renvoyez-le",
    "ewarn: reçu, réf ",
    ". Merci."};

constexpr Texts kRussian{
    "ewarn: ИНЦ <участок> <категория 1-8> <серьезность 1-5> <текст> [@место] | Я <участок> <число проголосовавших>. "
    "Категории: 1 насилие 2 запугивание 3 подкуп 4 вброс 5 материалы 6 процедура 7 доступ 8 другое",
    "ewarn: сообщение не понято. Начните с ИНЦ, Я или ПОМОЩЬ, напр. ИНЦ 01/01/01/005 насилие 4 толпа",
    "ewarn: не указан номер участка. Пример: Я 01/01/01/005 350",
    "ewarn: неизвестная категория. 1-8 или: насилие запугивание подкуп вброс материалы процедура доступ другое",
    "ewarn: серьезность - число от 1 (незначительно) до 5 (угроза жизни), после категории",
    "ewarn: число проголосовавших должно быть целым. Пример: Я 01/01/01/005 350",
    "ewarn: сообщение слишком длинное (не более 1000 символов)",
    "ewarn: сообщение не читается (неверные символы); отправьте еще раз",
    "ewarn: принято, номер ",
    ". Спасибо."};

const Texts& TextsFor(SmsLanguage language) {
  switch (language) {
    case SmsLanguage::kFrench: return kFrench;
    case SmsLanguage::kRussian: return kRussian;
    default: return kEnglish;
  }
}

SmsError Error(SmsLanguage language, std::string code, std::string_view Texts::*text) {
  return SmsError{language, std::move(code), std::string(TextsFor(language).*text)};
}

bool ValidStationId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string UpperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// At most `max` bytes of valid UTF-8 `s`, not splitting a character.
std::string Utf8Prefix(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::optional<int64_t> ParseCount(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0 || v > 100'000'000) return std::nullopt;
  return v;
}

// The result form's count words, in every language (as category words are).
enum class ResultCount { kAccredited, kRejected };
struct ResultCountWord {
  std::string_view word;
  ResultCount count;
};
constexpr std::array kResultCountWords = {
    ResultCountWord{"acc", ResultCount::kAccredited}, ResultCountWord{"акк", ResultCount::kAccredited},
    ResultCountWord{"rej", ResultCount::kRejected},   ResultCountWord{"nul", ResultCount::kRejected},
    ResultCountWord{"нед", ResultCount::kRejected},
};

SmsError ResultError(SmsLanguage language) {
  switch (language) {
    case SmsLanguage::kFrench:
      return {language, "sms_bad_result",
              "ewarn: résultat non compris. Exemple: R 01/01/01/005 APC 120 PDP 85 ACC 230 NUL 4"};
    case SmsLanguage::kRussian:
      return {language, "sms_bad_result",
              "ewarn: результат не понят. Пример: Р 01/01/01/005 APC 120 PDP 85 АКК 230 НЕД 4"};
    default:
      return {language, "sms_bad_result",
              "ewarn: result not understood. Example: R 01/01/01/005 APC 120 PDP 85 ACC 230 REJ 4"};
  }
}

// After "R <station>": [contest] then <candidate> <n> pairs, then ACC n / REJ n in any order.
std::variant<SmsCommand, SmsError> ParseResultTail(SmsCommand cmd, std::string_view tail) {
  std::string_view rest;
  std::vector<std::string_view> words = Words(tail, 2 * 200 + 5, &rest);
  if (!rest.empty()) return ResultError(cmd.language);
  auto count_word = [](std::string_view w) -> std::optional<ResultCount> {
    std::string folded = Fold(w);
    for (const auto& c : kResultCountWords) {
      if (c.word == folded) return c.count;
    }
    return std::nullopt;
  };
  size_t i = 0;
  // A contest is a code followed by another code, where a pair would have its number.
  if (words.size() >= 2 && !ParseCount(words[0]) && !ParseCount(words[1]) && !count_word(words[0])) {
    cmd.contest = UpperAscii(words[0]);
    i = 1;
  }
  for (; i < words.size(); i += 2) {
    if (i + 1 >= words.size()) return ResultError(cmd.language);
    auto n = ParseCount(words[i + 1]);
    if (!n) return ResultError(cmd.language);
    if (auto which = count_word(words[i])) {
      std::optional<int64_t>& slot = *which == ResultCount::kAccredited ? cmd.accredited : cmd.rejected;
      if (slot) return ResultError(cmd.language);  // given twice
      slot = *n;
      continue;
    }
    if (cmd.accredited || cmd.rejected || !ValidStationId(words[i])) return ResultError(cmd.language);
    std::string code = UpperAscii(words[i]);
    for (const auto& [named, _] : cmd.votes) {
      if (named == code) return ResultError(cmd.language);
    }
    cmd.votes.emplace_back(std::move(code), *n);
  }
  if (cmd.votes.empty()) return ResultError(cmd.language);
  return cmd;
}

}  // namespace

std::variant<SmsCommand, SmsError> ParseSms(std::string_view text) {
  if (text.size() > kMaxSmsBytes) return Error(SmsLanguage::kEnglish, "sms_too_long", &Texts::too_long);
  if (!ValidUtf8(text)) return Error(SmsLanguage::kEnglish, "bad_encoding", &Texts::encoding);
  std::string_view rest;
  std::vector<std::string_view> first = Words(text, 1, &rest);
  if (first.empty()) return Error(SmsLanguage::kEnglish, "sms_unknown_command", &Texts::unknown);
  std::string keyword = Fold(first[0]);
  const Keyword* match = nullptr;
  for (const auto& k : kKeywords) {
    if (k.word == keyword) match = &k;
  }
  if (match == nullptr) return Error(SmsLanguage::kEnglish, "sms_unknown_command", &Texts::unknown);
  SmsCommand cmd;
  cmd.kind = match->kind;
  cmd.language = match->language;
  if (cmd.kind == SmsCommand::Kind::kHelp) return cmd;

  std::string_view after_station;
  std::vector<std::string_view> station = Words(rest, 1, &after_station);
  if (station.empty() || !ValidStationId(station[0])) {
    return Error(cmd.language, "sms_missing_station", &Texts::station);
  }
  cmd.station_id = UpperAscii(station[0]);
  if (cmd.kind == SmsCommand::Kind::kResult) return ParseResultTail(std::move(cmd), after_station);

  if (cmd.kind == SmsCommand::Kind::kTurnout) {
    std::string_view tail;
    std::vector<std::string_view> n = Words(after_station, 1, &tail);
    auto count = n.empty() ? std::nullopt : ParseCount(n[0]);
    if (!count) return Error(cmd.language, "sms_bad_number", &Texts::number);
    cmd.voters_cast = *count;
    return cmd;
  }

  // The place marker is split off first, so "4@Ikeja" and "4 @ Ikeja" work too.
  std::string_view fields = after_station;
  if (size_t at = after_station.find('@'); at != std::string_view::npos) {
    fields = after_station.substr(0, at);
    cmd.place = Utf8Prefix(CollapseSpaces(after_station.substr(at + 1)), kMaxPlaceBytes);
  }
  std::string_view description;
  std::vector<std::string_view> words = Words(fields, 2, &description);
  if (words.empty()) return Error(cmd.language, "sms_bad_category", &Texts::category);
  std::string category = Fold(words[0]);
  if (category.size() == 1 && category[0] >= '1' && category[0] <= '8') {
    cmd.category = static_cast<v1::IncidentCategory>(category[0] - '0');
  } else {
    for (const auto& c : kCategoryWords) {
      if (c.word != category) continue;
      cmd.category = c.category;
      // INC/INCIDENT are shared by English and French: a French category word decides.
      if (c.language != SmsLanguage::kEnglish) cmd.language = c.language;
    }
  }
  if (cmd.category == v1::INCIDENT_CATEGORY_UNSPECIFIED) {
    return Error(cmd.language, "sms_bad_category", &Texts::category);
  }
  if (words.size() < 2 || words[1].size() != 1 || words[1][0] < '1' || words[1][0] > '5') {
    return Error(cmd.language, "sms_bad_severity", &Texts::severity);
  }
  cmd.severity = words[1][0] - '0';
  cmd.text = CollapseSpaces(description);
  return cmd;
}

std::string SmsAcceptedReply(SmsLanguage language, std::string_view reference) {
  const Texts& t = TextsFor(language);
  return std::string(t.ok_prefix) + std::string(reference) + std::string(t.ok_suffix);
}

std::string SmsHelpReply(SmsLanguage language) { return std::string(TextsFor(language).help); }

}  // namespace ewarn::ingest
