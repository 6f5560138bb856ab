#include "json_text.h"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace ewarn::app {
namespace {

void Write(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[400];  // the longest fixed form of a double (1.8e308) fits
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
      std::string_view text(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
      out += text;
      if (text.find('.') == std::string_view::npos) out += ".0";  // still reads as a double
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(key));
        out += ':';
        Write(item, out);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        Write(item, out);
      }
      out += ']';
      return;
    }
    default:
      out += boost::json::serialize(v);
  }
}

}  // namespace

std::string JsonText(const boost::json::value& value) {
  std::string out;
  Write(value, out);
  return out;
}

}  // namespace ewarn::app
