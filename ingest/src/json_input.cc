// JSON submissions -> events, with Boost.JSON (header-only: its sources are compiled here once).
#include "ewarn/ingest/json_input.h"

#include <boost/json.hpp>
#include <boost/json/src.hpp>
#include <cmath>

#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"

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
      f.Fail("bad_time", "occurred_at", "occurred_at must be an RFC 3339 time like 2023-02-25T08:30:00Z, got '" +
                                            occurred + "'");
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
  }
  return f.error();
}

}  // namespace

DecodedInput DecodeJsonInput(InputKind kind, std::string_view body) {
  DecodedInput out;
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
  json::parser parser(json::storage_ptr(), options, parser_buffer, sizeof parser_buffer);
  parser.reset(&arena);
  parser.write(body.data(), body.size(), ec);
  json::value root = ec ? json::value() : parser.release();
  if (ec) {
    out.error = InputError{"bad_json", "", "the body is not valid JSON: " + ec.message()};
    return out;
  }
  if (root.is_array()) {
    if (kind != InputKind::kKit) {
      out.error = InputError{"bad_json", "", "expected one JSON object (only /v1/kit takes an array)"};
      return out;
    }
    const json::array& items = root.as_array();
    if (items.empty()) {
      out.error = InputError{"bad_json", "", "the batch is empty"};
      return out;
    }
    if (items.size() > kMaxKitBatch) {
      out.error = InputError{"batch_too_large", "", "a batch holds at most " + std::to_string(kMaxKitBatch) +
                                                        " readings, got " + std::to_string(items.size())};
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

}  // namespace ewarn::ingest
