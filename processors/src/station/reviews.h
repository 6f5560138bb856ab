// The duty room's review decisions (ReportReview in in.events) as the station stage applies
// them to the incidents' situations: a report marked false or duplicate stops counting (its
// reporter no longer corroborates, its severity no longer weighs), a verified one confirms its
// situation on its own; "new" and "needs follow-up" count it as before. The last decision wins.
// Decisions apply to the members a situation keeps (the first 64).
#pragma once

#include "ewarn/v1/inputs.pb.h"
#include "ewarn/v1/rules.pb.h"
#include "state.pb.h"

namespace ewarn::processors::station {

// Marks the member for `review` in `s`; false when `s` has no such member (or nothing changed).
bool ApplyReview(state::OpenSituation& s, const v1::ReportReview& review);
// Independent reporters, confidence and highest severity from the members that count: distinct
// reporters, each counted only for a text nobody sent before (the same report by SMS and by
// app, or forwarded, is one voice).
void Recount(state::OpenSituation& s, const v1::Rules& rules);
// A verified member that counts: the situation is confirmed whatever its reporters.
bool HasVerified(const state::OpenSituation& s);

}  // namespace ewarn::processors::station
