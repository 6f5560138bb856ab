// JSON submissions -> events, with Boost.JSON (header-only: its sources are compiled here once).
#include "ewarn/ingest/json_input.h"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/src.hpp>
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "result_sheet_json.h"

namespace ewarn::ingest {
namespace {

namespace json = boost::json;

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxDescription = 2000;
constexpr size_t kMaxText = 5000;
constexpr size_t kMaxShortText = 200;

// Reads the fields of one object; the first problem wins and names its field.
class Fields {
 public:
  Fields(const json::object& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

  const std::optional<InputError>& error() const { return error_; }

  std::string String(std::string_view name, bool required, size_t max_length) {
    const json::value* v = Find(name, required);
    if (v == nullptr) return "";
    if (!v->is_string()) return Fail("bad_type", name, std::string(name) + " must be a string"), "";
    std::string s(v->as_string().data(), v->as_string().size());
    if (required && s.empty()) return Fail("missing_field", name, std::string(name) + " must not be empty"), "";
    if (s.size() > max_length) {
      return Fail("out_of_range", name, std::string(name) + " is longer than " + std::to_string(max_length) + " bytes"), "";
    }
    return s;
  }

  std::optional<int64_t> Integer(std::string_view name, bool required, int64_t min, int64_t max) {
    const json::value* v = Find(name, required);
    if (v == nullptr) return std::nullopt;
    int64_t n = 0;
    if (v->is_int64()) {
      n = v->as_int64();
    } else if (v->is_uint64()) {
      if (v->as_uint64() > static_cast<uint64_t>(max)) return OutOfRange(name, min, max), std::nullopt;
      n = static_cast<int64_t>(v->as_uint64());
    } else if (v->is_double() && std::isfinite(v->as_double()) && v->as_double() == std::floor(v->as_double()) &&
               std::fabs(v->as_double()) < 9e15) {
      n = static_cast<int64_t>(v->as_double());  // 3.0 is an integer; 3.5 is not
    } else {
      return Fail("bad_type", name, std::string(name) + " must be an integer"), std::nullopt;
    }
    if (n < min || n > max) return OutOfRange(name, min, max), std::nullopt;
    return n;
  }

  std::optional<double> Number(std::string_view name, bool required, double min, double max) {
    const json::value* v = Find(name, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) return Fail("bad_type", name, std::string(name) + " must be a number"), std::nullopt;
    double d = v->to_number<double>();
    if (!std::isfinite(d) || d < min || d > max) {
      Fail("out_of_range", name,
           std::string(name) + " must be from " + Format(min) + " to " + Format(max) + ", got " + Format(d));
      return std::nullopt;
    }
    return d;
  }

  std::optional<bool> Bool(std::string_view name, bool required) {
    const json::value* v = Find(name, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_bool()) return Fail("bad_type", name, std::string(name) + " must be true or false"), std::nullopt;
    return v->as_bool();
  }

  // Optional lat/lon, both or neither; (0,0) is the classic "no fix" value and is refused.
  void Location(v1::GeoPoint* out, bool* present) {
    *present = false;
    bool has_lat = object_.contains("lat") && !object_.at("lat").is_null();
    bool has_lon = object_.contains("lon") && !object_.at("lon").is_null();
    if (!has_lat && !has_lon) return;
    if (has_lat != has_lon) return Fail("missing_field", has_lat ? "lon" : "lat", "lat and lon come together");
    auto lat = Number("lat", true, -90, 90);
    auto lon = Number("lon", true, -180, 180);
    if (!lat || !lon) return;
    if (*lat == 0 && *lon == 0) return Fail("bad_value", "lat", "lat/lon 0,0 is not a real position; leave them out");
    out->set_lat(*lat);
    out->set_lon(*lon);
    *present = true;
  }

  void Fail(std::string code, std::string_view field, std::string message) {
    if (!error_) error_ = InputError{std::move(code), prefix_ + std::string(field), std::move(message)};
  }

 private:
  const json::value* Find(std::string_view name, bool required) {
    if (error_) return nullptr;
    auto it = object_.find(name);
    if (it == object_.end() || it->value().is_null()) {
      if (required) Fail("missing_field", name, std::string(name) + " is required");
      return nullptr;
    }
    return &it->value();
  }
  void OutOfRange(std::string_view name, int64_t min, int64_t max) {
    Fail("out_of_range", name,
         std::string(name) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  static std::string Format(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }

  const json::object& object_;
  std::string prefix_;
  std::optional<InputError> error_;
};

// Boost.JSON's own document builder (a value_stack fed by the parser's events), plus what
// Boost.JSON does not offer: refusing an object that repeats a key. Left to the object, the last
// value would win, and a validator reading the first and the stored event would disagree.
class DuplicateRefusingHandler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  struct Duplicate {
    std::string key;
    std::string field;  // "severity", or "[3].severity" in a top-level array
  };

  DuplicateRefusingHandler(json::storage_ptr sp, unsigned char* buffer, size_t size) : st(std::move(sp), buffer, size) {}

  json::value_stack st;
  std::optional<Duplicate> duplicate;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    if (containers_.size() == 1 && !containers_[0].is_object) ++top_index_;
    containers_.push_back({true, keys_.size()});
    return true;
  }
  bool on_object_end(size_t n, boost::system::error_code&) {
    keys_.resize(containers_.back().first_key);
    containers_.pop_back();
    st.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    containers_.push_back({false, keys_.size()});
    return true;
  }
  bool on_array_end(size_t n, boost::system::error_code&) {
    containers_.pop_back();
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, boost::system::error_code& ec) {
    key_.append(s.data(), s.size());
    for (size_t i = containers_.back().first_key; i < keys_.size(); ++i) {
      if (keys_[i] != key_) continue;
      std::string prefix = !containers_.empty() && !containers_[0].is_object && containers_.size() == 2
                               ? "[" + std::to_string(top_index_ - 1) + "]."
                               : "";
      duplicate = Duplicate{key_, prefix + key_};
      ec = json::error::syntax;  // stops the parser; `duplicate` says why
      return false;
    }
    keys_.push_back(std::move(key_));
    key_.clear();
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, size_t, boost::system::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, boost::system::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, boost::system::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, boost::system::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, boost::system::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  struct Container {
    bool is_object;
    size_t first_key;  // its keys are keys_[first_key..]
  };
  std::vector<Container> containers_;  // open containers, outermost first
  std::vector<std::string> keys_;      // keys of the open objects
  std::string key_;                    // the key being read
  size_t top_index_ = 0;               // objects begun in a top-level array
};

bool PrintableId(std::string_view id) {
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::optional<InputError> DecodeOne(InputKind kind, const json::value& value, const std::string& prefix,
                                    v1::Event* event) {
  if (!value.is_object()) return InputError{"bad_json", prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1),
                                            "expected a JSON object"};
  Fields f(value.as_object(), prefix);
  std::string id = f.String("event_id", true, kMaxIdLength);
  if (!f.error() && !PrintableId(id)) {
    f.Fail("bad_value", "event_id", "event_id must be printable ASCII without spaces");
  }
  std::string occurred = f.String("occurred_at", true, 64);
  if (!f.error()) {
    Result<TimeMs> t = ParseRfc3339(occurred);
    if (!t.ok()) {
      f.Fail("bad_time", "occurred_at", "occurred_at: " + t.status().message());
    } else {
      event->mutable_header()->set_event_time_ms(*t);
    }
  }
  event->mutable_header()->set_event_id(id);
  switch (kind) {
    case InputKind::kIncident: {
      auto* inc = event->mutable_incident();
      inc->set_station_id(f.String("station_id", true, kMaxShortText));
      std::string category = f.String("category", true, kMaxShortText);
      if (!f.error()) {
        auto c = schemas::ParseCategory(category);
        if (!c.ok()) {
          f.Fail("unknown_category", "category",
                 "category must be one of violence, intimidation, vote_buying, ballot_tampering, materials, "
                 "procedure, access, other; got '" + category + "'");
        } else {
          inc->set_category(*c);
        }
      }
      if (auto s = f.Integer("severity", true, 1, 5)) inc->set_severity(static_cast<int32_t>(*s));
      inc->set_description(f.String("description", false, kMaxDescription));
      // A named place (school, market, junction): the processors geocode it against the
      // gazetteer when there is no lat/lon.
      inc->set_place_text(f.String("place", false, kMaxPlaceBytes));
      bool located = false;
      f.Location(inc->mutable_location(), &located);
      if (!located) inc->clear_location();
      break;
    }
    case InputKind::kHateSpeech: {
      auto* h = event->mutable_hate_speech();
      h->set_station_id(f.String("station_id", false, kMaxShortText));
      h->set_area(f.String("area", false, kMaxShortText));
      if (!f.error() && h->station_id().empty() && h->area().empty()) {
        f.Fail("missing_field", "station_id", "station_id or area is required");
      }
      h->set_text(f.String("text", true, kMaxText));
      h->set_target_group(f.String("target_group", false, kMaxShortText));
      if (auto r = f.Integer("reach", false, 0, int64_t{1} << 40)) h->set_reach(*r);
      if (auto c = f.Number("confidence", true, 0, 1)) h->set_confidence(*c);
      break;
    }
    case InputKind::kTurnout: {
      auto* t = event->mutable_turnout();
      t->set_station_id(f.String("station_id", true, kMaxShortText));
      auto cast = f.Integer("voters_cast", true, 0, 100'000'000);
      auto registered = f.Integer("registered", false, 0, 100'000'000);
      if (cast) t->set_voters_cast(*cast);
      if (registered) t->set_registered(*registered);
      if (cast && registered && *cast > *registered) {
        f.Fail("out_of_range", "voters_cast", "voters_cast (" + std::to_string(*cast) + ") exceeds registered (" +
                                                  std::to_string(*registered) + ")");
      }
      break;
    }
    case InputKind::kKit: {
      auto* k = event->mutable_kit();
      k->set_kit_id(f.String("kit_id", true, kMaxShortText));
      k->set_station_id(f.String("station_id", true, kMaxShortText));
      if (auto b = f.Number("battery_pct", true, 0, 100)) k->set_battery_pct(*b);
      if (auto a = f.Integer("accredited_total", true, 0, 100'000'000)) k->set_accredited_total(*a);
      if (auto a = f.Integer("auth_failures", true, 0, 100'000'000)) k->set_auth_failures(*a);
      if (auto t = f.Bool("tamper", true)) k->set_tamper(*t);
      bool located = false;
      f.Location(k->mutable_location(), &located);
      if (!located) k->clear_location();
      break;
    }
    case InputKind::kResult:  // results.cc: the sheet's own fields and arithmetic
      if (!f.error()) return DecodeResultSheet(value.as_object(), prefix, event->mutable_result_sheet());
      break;
  }
  return f.error();
}

// Parses `body` (a repeated key refused) and hands its root to `use`; what is wrong when it is
// not JSON.
std::optional<InputError> ParseRoot(std::string_view body, const std::function<void(const json::value&)>& use) {
  json::parse_options options;
  options.max_depth = 16;  // submissions are flat; deep nesting is an attack, not a report
  boost::system::error_code ec;
  // The document lives only for this call: a bump allocator (freed at once when it goes) saves a
  // malloc and a free per value, which for a kit batch of hundreds of readings is most of the
  // decoding time. It starts in a buffer on the stack, which holds a single report whole, and
  // the parser's own working stack is on the stack too: one report, no heap allocation.
  unsigned char arena_buffer[4096];
  json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
  unsigned char parser_buffer[2048];
  json::basic_parser<DuplicateRefusingHandler> parser(options, json::storage_ptr(), parser_buffer,
                                                      sizeof parser_buffer);
  parser.handler().st.reset(&arena);
  size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && used < body.size()) ec = json::error::extra_data;
  if (const auto& dup = parser.handler().duplicate; dup.has_value()) {
    return InputError{"duplicate_key", dup->field, "the key '" + dup->key + "' appears twice; send each field once"};
  }
  if (ec) {
    return InputError{"bad_json", "", "the body is not valid JSON: " + ec.message()};
  }
  json::value root = parser.handler().st.release();
  use(root);
  return std::nullopt;
}

DecodedInput DecodeRoot(InputKind kind, const json::value& root) {
  DecodedInput out;
  if (root.is_array()) {
    if (kind != InputKind::kKit && kind != InputKind::kTurnout) {
      out.error = InputError{"bad_json", "", "expected one JSON object (only /v1/kit and /v1/turnout take an array)"};
      return out;
    }
    const json::array& items = root.as_array();
    if (items.empty()) {
      out.error = InputError{"bad_json", "", "the batch is empty"};
      return out;
    }
    if (items.size() > kMaxBatch) {
      out.error = InputError{"batch_too_large", "", "a batch holds at most " + std::to_string(kMaxBatch) +
                                                        " reports, got " + std::to_string(items.size())};
      return out;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      v1::Event e;
      if (auto err = DecodeOne(kind, items[i], "[" + std::to_string(i) + "].", &e)) {
        out.events.clear();
        out.error = std::move(err);
        return out;
      }
      out.events.push_back(std::move(e));
    }
    return out;
  }
  v1::Event e;
  if (auto err = DecodeOne(kind, root, "", &e)) {
    out.error = std::move(err);
    return out;
  }
  out.events.push_back(std::move(e));
  return out;
}

}  // namespace

DecodedInput DecodeJsonInput(InputKind kind, std::string_view body) {
  DecodedInput out;
  std::optional<InputError> not_json = ParseRoot(body, [&](const json::value& root) { out = DecodeRoot(kind, root); });
  if (not_json) out.error = std::move(not_json);
  return out;
}

bool IsJsonArray(std::string_view body) {
  size_t at = body.find_first_not_of(" \t\r\n");
  return at != std::string_view::npos && body[at] == '[';
}

DecodedBatch DecodeJsonBatch(InputKind kind, std::string_view body) {
  DecodedBatch out;
  std::optional<InputError> not_json = ParseRoot(body, [&](const json::value& root) {
    if (!root.is_array()) {
      out.error = InputError{"bad_json", "", "expected a JSON array of reports"};
      return;
    }
    const json::array& items = root.as_array();
    if (items.empty()) {
      out.error = InputError{"bad_json", "", "the batch is empty"};
      return;
    }
    if (items.size() > kMaxBatch) {
      out.error = InputError{"batch_too_large", "", "a batch holds at most " + std::to_string(kMaxBatch) +
                                                        " reports, got " + std::to_string(items.size())};
      return;
    }
    out.elements.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      DecodedElement& element = out.elements[i];
      element.raw = json::serialize(items[i]);
      element.error = DecodeOne(kind, items[i], "", &element.event);
    }
  });
  if (not_json) {
    out.elements.clear();
    out.error = std::move(not_json);
  }
  return out;
}

}  // namespace ewarn::ingest
