#include "ewarn/processors/digest.h"

#include <map>
#include <set>
#include <unordered_set>

#include "ewarn/base/hash.h"
#include "ewarn/schemas/events.h"

namespace ewarn::processors {

Result<std::string> StateDigest(store::StateStore& state) {
  Sha256 h;
  for (const std::string& name : state.StoreNames()) {
    h.UpdateField(name);
    RETURN_IF_ERROR(state.Scan(name, "", [&](std::string_view k, std::string_view v) {
      h.UpdateField(k);
      h.UpdateField(v);
      return true;
    }));
  }
  return h.HexDigest();
}

Result<OutputDigest> DigestTopics(store::EventLog& log, const std::vector<std::string>& topics) {
  OutputDigest out;
  Sha256 h;
  for (const std::string& topic : topics) {
    Result<int32_t> partitions = log.PartitionCount(topic);
    if (partitions.status().code() == StatusCode::kNotFound) continue;
    RETURN_IF_ERROR(partitions.status());
    h.UpdateField(topic);
    std::map<std::string, std::string> by_id;                   // id -> value hash
    std::map<std::string, std::vector<std::string>> key_order;  // key -> ids in log order
    std::unordered_set<std::string> seen_values;                // id + value hash
    for (int32_t p = 0; p < *partitions; ++p) {
      int64_t from = 0;
      while (true) {
        ASSIGN_OR_RETURN(std::vector<store::LogRecord> batch, log.Read({topic, p}, from, 10000));
        if (batch.empty()) break;
        from = batch.back().offset + 1;
        for (const auto& r : batch) {
          Result<v1::Event> e = schemas::DecodeEvent(r.value);
          std::string id = e.ok() ? e->header().event_id() : "raw:" + Sha256Hex(r.value);
          std::string value_hash = Sha256Hex(r.value);
          if (!seen_values.insert(id + '\0' + value_hash).second) {
            ++out.duplicates;
            continue;
          }
          // The same id with different bytes is kept twice: a determinism bug must show.
          std::string slot = by_id.count(id) ? id + '\0' + value_hash : id;
          by_id[slot] = value_hash;
          key_order[r.key].push_back(id);
          ++out.records;
        }
      }
    }
    for (const auto& [id, value_hash] : by_id) {
      h.UpdateField(id);
      h.UpdateField(value_hash);
    }
    for (const auto& [key, ids] : key_order) {
      h.UpdateField(key);
      for (const auto& id : ids) h.UpdateField(id);
    }
  }
  out.digest = h.HexDigest();
  return out;
}

}  // namespace ewarn::processors
