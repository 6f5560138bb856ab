// Internal: the result-sheet fields of a POST /v1/results body (json_input.cc reads the common
// event_id and occurred_at, then hands the object here).
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "ewarn/ingest/json_input.h"
#include "ewarn/v1/results.pb.h"

namespace ewarn::ingest {

// Fills `sheet` from `object`; the first problem, its field prefixed by `prefix`. Checks the
// sheet's arithmetic too: votes summing above ballots_issued or registered, ballots_issued or
// accredited above registered (out_of_range, naming the field).
std::optional<InputError> DecodeResultSheet(const boost::json::object& object, const std::string& prefix,
                                            v1::ResultSheet* sheet);

}  // namespace ewarn::ingest
