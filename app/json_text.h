// JSON text for the read APIs (/v1/risk, /v1/alerts) in one number style: plain decimals
// ("0.5", "1.148"), never the exponent form Boost.JSON prints for doubles ("5E-1").
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace ewarn::app {

// `value` serialized compactly; doubles as the shortest plain decimal that reads back as the
// same double (integral ones as "2.0"), non-finite ones as null; everything else as
// boost::json::serialize writes it.
std::string JsonText(const boost::json::value& value);

}  // namespace ewarn::app
